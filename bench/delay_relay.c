/* The benchmarks' delaying DNS front: UDP queries on 127.0.0.1:PORT are passed to Knot on
 * 127.0.0.1:UPSTREAM and each answer is held back DELAY_MS after its query came in.
 *
 * Why C and a clock tick: the front shares the machine's cores with the tool being measured,
 * so it must cost next to nothing. dnsdist's DelayAction takes ~90 us of CPU per answer at the
 * rates a batch run asks (a thread woken per packet), a quarter of a core at 3,500 queries/s.
 * This loop wakes once a millisecond, reads every waiting packet with recvmmsg and sends every
 * due answer with sendmmsg: ~10-20 us of CPU per answer with Knot's own (the benchmark's flood
 * measures and prints it), and a sender never wakes it packet by packet
 * (as a resolver on another machine would not). The delay is DELAY_MS from the tick that read
 * the query, so an answer arrives DELAY_MS to DELAY_MS + 2 ms after its query was sent.
 * TCP (a client retrying a truncated answer, or one that asks DNSSEC questions over TCP as
 * checkdmarc does) is passed on too, one thread a connection, each answer held back DELAY_MS
 * after its query was read; queries pipelined on one connection are answered one after the
 * other (DNS clients here open a connection per question).
 *
 *   cc -O2 -pthread -o delay_relay delay_relay.c && ./delay_relay PORT UPSTREAM DELAY_MS
 * Prints "ready" once listening; SIGTERM stops it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 256
#define PACKET 65536 /* the largest UDP payload */
#define IDS 65536    /* DNS ids: one slot each for a query on its way to Knot */
#define HELD 65536   /* answers waiting for their time */
#define STALE_NS 5000000000LL /* a slot Knot never answered is free again after 5 s */

struct slot {
    int64_t due;      /* when the answer may go (0: free) */
    int64_t asked;    /* when the query was read */
    struct sockaddr_in client;
    uint16_t client_id;
};

struct held {
    int64_t due;
    struct sockaddr_in client;
    size_t len;
    unsigned char *data;
};

static struct slot slots[IDS];
static struct held held[HELD];
static size_t held_count;
static volatile sig_atomic_t stopping;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int udp_socket(uint16_t port, int bind_it) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    int size = 8 << 20;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (fd < 0) return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind_it ? bind(fd, (struct sockaddr *)&addr, sizeof addr)
                : connect(fd, (struct sockaddr *)&addr, sizeof addr))
        return -1;
    return fd;
}

static unsigned char buffers[BATCH][PACKET];
static struct mmsghdr msgs[BATCH];
static struct iovec iovs[BATCH];
static struct sockaddr_in peers[BATCH];

static void send_all(int fd, struct mmsghdr *sends, int count);

static int receive(int fd) {
    for (int i = 0; i < BATCH; i++) {
        iovs[i] = (struct iovec){.iov_base = buffers[i], .iov_len = PACKET};
        msgs[i].msg_hdr = (struct msghdr){.msg_name = &peers[i], .msg_namelen = sizeof peers[i],
                                          .msg_iov = &iovs[i], .msg_iovlen = 1};
    }
    int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
    return n < 0 ? 0 : n;
}

/* Queries in: each gets a free id (its slot) and goes to Knot. */
static int forward_queries(int front, int back, uint16_t *next_id, int64_t now, int64_t delay) {
    int n = receive(front), out = 0;
    static struct mmsghdr sends[BATCH];
    static struct iovec send_iovs[BATCH];
    for (int i = 0; i < n; i++) {
        unsigned char *packet = buffers[i];
        if (msgs[i].msg_len < 12) continue;
        uint16_t id = *next_id;
        int tries = 0;
        while (slots[id].due && now - slots[id].asked < STALE_NS && tries++ < IDS) id++;
        if (tries >= IDS) continue; /* every id in flight: drop it, the client retries */
        *next_id = (uint16_t)(id + 1);
        slots[id] = (struct slot){.due = now + delay, .asked = now, .client = peers[i],
                                  .client_id = (uint16_t)(packet[0] << 8 | packet[1])};
        packet[0] = id >> 8;
        packet[1] = id & 0xff;
        send_iovs[out] = (struct iovec){.iov_base = packet, .iov_len = msgs[i].msg_len};
        sends[out].msg_hdr = (struct msghdr){.msg_iov = &send_iovs[out], .msg_iovlen = 1};
        out++;
    }
    send_all(back, sends, out);
    return n;
}

/* Every message of `sends[0..count)` sent, however many one sendmmsg takes; a message the
 * kernel refuses (not EAGAIN) is skipped, so one bad address does not stop the rest. */
static void send_all(int fd, struct mmsghdr *sends, int count) {
    int done = 0;
    while (done < count) {
        int n = sendmmsg(fd, sends + done, (unsigned)(count - done), 0);
        if (n > 0) done += n;
        else if (errno == EAGAIN || errno == EINTR || errno == ENOBUFS) continue;
        else done++;
    }
}

/* Answers from Knot: back to their client's id, held until their time (the due time of the
 * query: answers are not kept in arrival order, so one Knot was slow with is not held longer). */
static int hold_answers(int back) {
    int n = receive(back);
    for (int i = 0; i < n; i++) {
        unsigned char *packet = buffers[i];
        if (msgs[i].msg_len < 12) continue;
        uint16_t id = (uint16_t)(packet[0] << 8 | packet[1]);
        struct slot *slot = &slots[id];
        if (!slot->due) continue; /* late answer to a slot already given up */
        int64_t due = slot->due;
        slot->due = 0; /* the slot is free again, whatever happens to the answer */
        if (held_count == HELD) continue; /* full: dropped, the client retries */
        packet[0] = slot->client_id >> 8;
        packet[1] = slot->client_id & 0xff;
        struct held *h = &held[held_count];
        h->data = malloc(msgs[i].msg_len);
        if (!h->data) continue;
        memcpy(h->data, packet, msgs[i].msg_len);
        h->len = msgs[i].msg_len;
        h->due = due;
        h->client = slot->client;
        held_count++;
    }
    return n;
}

/* Every answer whose time has come (a scan of the few hundred held), sent in batches. */
static void release(int front, int64_t now) {
    static struct mmsghdr sends[BATCH];
    static struct iovec send_iovs[BATCH];
    static unsigned char *sent[BATCH];
    static struct sockaddr_in to[BATCH]; /* copies: held[] is compacted while a batch fills */
    size_t kept = 0;
    int out = 0;
    for (size_t i = 0; i < held_count; i++) {
        struct held *h = &held[i];
        if (h->due > now) {
            held[kept++] = *h;
            continue;
        }
        send_iovs[out] = (struct iovec){.iov_base = h->data, .iov_len = h->len};
        to[out] = h->client;
        sends[out].msg_hdr = (struct msghdr){.msg_name = &to[out], .msg_namelen = sizeof to[out],
                                             .msg_iov = &send_iovs[out], .msg_iovlen = 1};
        sent[out++] = h->data;
        if (out == BATCH) {
            send_all(front, sends, out);
            for (int j = 0; j < out; j++) free(sent[j]);
            out = 0;
        }
    }
    send_all(front, sends, out);
    for (int j = 0; j < out; j++) free(sent[j]);
    held_count = kept;
}

static void stop(int sig) {
    (void)sig;
    stopping = 1;
}

static uint16_t upstream_port;
static int64_t delay_ns;

static int full(int fd, unsigned char *buf, size_t len, int writing) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = writing ? write(fd, buf + done, len - done) : read(fd, buf + done, len - done);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

/* One TCP client: each length-prefixed query to Knot over one connection of its own, and its
 * answer back once DELAY_MS has passed since the query was read. */
static void *tcp_client(void *arg) {
    int client = (int)(intptr_t)arg;
    int knot = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(upstream_port)};
    struct timeval limit = {.tv_sec = 10};
    unsigned char *buf = malloc(PACKET + 2);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    setsockopt(knot, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    if (buf && knot >= 0 && !connect(knot, (struct sockaddr *)&addr, sizeof addr)) {
        for (;;) {
            if (full(client, buf, 2, 0)) break;
            size_t len = (size_t)(buf[0] << 8 | buf[1]);
            if (full(client, buf + 2, len, 0)) break;
            int64_t due = now_ns() + delay_ns;
            if (full(knot, buf, len + 2, 1) || full(knot, buf, 2, 0)) break;
            len = (size_t)(buf[0] << 8 | buf[1]);
            if (full(knot, buf + 2, len, 0)) break;
            int64_t wait = due - now_ns();
            if (wait > 0) {
                struct timespec ts = {.tv_sec = wait / 1000000000LL, .tv_nsec = wait % 1000000000LL};
                nanosleep(&ts, NULL);
            }
            if (full(client, buf, len + 2, 1)) break;
        }
    }
    free(buf);
    if (knot >= 0) close(knot);
    close(client);
    return NULL;
}

static void accept_clients(int listener) {
    for (;;) {
        int client = accept4(listener, NULL, NULL, 0);
        if (client < 0) return; /* EAGAIN: nobody waiting (the listener is non-blocking) */
        pthread_t thread;
        if (pthread_create(&thread, NULL, tcp_client, (void *)(intptr_t)client)) close(client);
        else pthread_detach(thread);
    }
}

static int tcp_listener(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0) return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) || listen(fd, 128)) return -1;
    return fd;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s PORT UPSTREAM_PORT DELAY_MS\n", argv[0]);
        return 2;
    }
    int front = udp_socket((uint16_t)atoi(argv[1]), 1);
    int back = udp_socket((uint16_t)atoi(argv[2]), 0);
    int listener = tcp_listener((uint16_t)atoi(argv[1]));
    int64_t delay = (int64_t)(atof(argv[3]) * 1000000.0);
    upstream_port = (uint16_t)atoi(argv[2]);
    delay_ns = delay;
    if (front < 0 || back < 0 || listener < 0) {
        perror("delay_relay: socket");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN); /* a TCP client gone: its thread sees the error and ends */
    signal(SIGTERM, stop);
    signal(SIGINT, stop);
    printf("ready\n");
    fflush(stdout);
    uint16_t next_id = 0;
    const struct timespec tick = {.tv_sec = 0, .tv_nsec = 1000000};
    while (!stopping) {
        int64_t now = now_ns();
        while (forward_queries(front, back, &next_id, now, delay) == BATCH) {}
        while (hold_answers(back) == BATCH) {}
        release(front, now);
        accept_clients(listener);
        nanosleep(&tick, NULL);
    }
    return 0;
}
