"""A DNS proxy on loopback that delays, drops or breaks queries: DNS faults, on demand.

    python tests/infra/dns_proxy.py LISTEN_PORT UPSTREAM_PORT [--delay-ms N] [--drop]
        [--fault KIND] [--only NAME ...] [--refuse NAME ...]

Listens on 127.0.0.1:LISTEN_PORT (UDP and TCP) and relays to 127.0.0.1:UPSTREAM_PORT (Knot),
holding each answer back by N ms (latency benchmarks); with --drop it answers nothing at all
(timeout tests: a UDP query is swallowed, a TCP connection is held open and never answered).

--fault KIND breaks the answers instead (the DNS fault matrix):
  drop            answer nothing (the same as --drop)
  servfail        answer SERVFAIL (rcode 2) at once
  refused         answer REFUSED (rcode 5) at once, without the RA flag, as Knot does
  truncate        over UDP answer with the TC flag and no records; over TCP relay the real
                  answer (a client must retry over TCP and use that answer)
  wrong-id        relay the real answer under another message id
  wrong-question  answer NOERROR for another question (the name asked, prefixed by "wrong")
  garbage         answer bytes that are not a DNS message
--only NAME (repeatable) limits the fault to questions for exactly NAME (any type, any case);
other questions are relayed untouched. --refuse NAME is short for --fault refused --only NAME.
Prints one line starting with "ready" once both sockets listen; LISTEN_PORT 0 takes a port the
kernel gives (the same for UDP and TCP) and the ready line names it: "ready 127.0.0.1:PORT -> ...".

Loopback only, and bounded: at most --max-pending queries/connections in flight (more are
dropped), each upstream exchange gives up after --upstream-timeout s, an idle TCP connection is
closed after --idle-timeout s. --exit-with-parent stops the proxy when the process that started
it goes away (a killed test session leaves nothing behind). Stdlib only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import struct
import sys

LOOPBACK = "127.0.0.1"
FAULTS = ("drop", "servfail", "refused", "truncate", "wrong-id", "wrong-question", "garbage")
GARBAGE = b"\x00\x01 this is not a DNS message \xff\xfe"
_QR, _TC, _RD = 0x8000, 0x0200, 0x0100


def question(message: bytes) -> tuple[str, int] | None:
    """(lower-case name without the trailing dot, end offset of the question) of a query, or
    None when it has no readable question (compression is not used in questions of queries)."""
    if len(message) < 12 or struct.unpack("!H", message[4:6])[0] < 1:
        return None
    labels, offset = [], 12
    while offset < len(message):
        length = message[offset]
        offset += 1
        if length == 0:
            end = offset + 4  # QTYPE, QCLASS
            return (".".join(labels).lower(), end) if end <= len(message) else None
        if length > 63 or offset + length > len(message):
            return None
        labels.append(message[offset : offset + length].decode("ascii", "replace"))
        offset += length
    return None


def made_reply(query: bytes, rcode: int, flags: int = 0, prefix: bytes = b"") -> bytes | None:
    """A reply to `query` with its question (optionally under `prefix` + the name) and no
    records: SERVFAIL, REFUSED, a truncated answer, an answer to another question."""
    asked = question(query)
    if asked is None:
        return None
    qid, qflags = struct.unpack("!HH", query[:4])
    header = struct.pack(
        "!HHHHHH", qid, _QR | (qflags & (0x7800 | _RD)) | flags | rcode, 1, 0, 0, 0
    )
    return header + prefix + query[12 : asked[1]]


class Relay:
    """What to do with each query, and the bounds on how much is in flight."""

    def __init__(self, args: argparse.Namespace):
        self.upstream: int = args.upstream_port
        self.delay: float = args.delay_ms / 1000
        self.fault: str | None = "drop" if args.drop else args.fault
        self.only: set[str] = {n.lower().rstrip(".") for n in args.only}
        self.upstream_timeout: float = args.upstream_timeout
        self.idle_timeout: float = args.idle_timeout
        self.max_pending: int = args.max_pending
        self.pending: set[asyncio.Task[None]] = set()
        self.connections = 0

    def fault_for(self, query: bytes) -> str | None:
        """The fault to apply to this query, or None to relay it untouched."""
        if self.fault is None or not self.only:
            return self.fault
        asked = question(query)
        return self.fault if asked is not None and asked[0] in self.only else None

    def broken(self, fault: str, query: bytes, reply: bytes | None, tcp: bool) -> bytes | None:
        """What a faulty server sends for `query` (the upstream's `reply` where one is needed);
        None: nothing at all."""
        if fault == "servfail":
            return made_reply(query, 2)
        if fault == "refused":
            return made_reply(query, 5)
        if fault == "truncate":
            return reply if tcp else made_reply(query, 0, _TC)
        if fault == "wrong-question":
            return made_reply(query, 0, prefix=b"\x05wrong")
        if fault == "garbage":
            return GARBAGE
        if fault == "wrong-id" and reply is not None and len(reply) >= 2:
            return struct.pack("!H", struct.unpack("!H", reply[:2])[0] ^ 0x5A5A) + reply[2:]
        return None

    @staticmethod
    def needs_upstream(fault: str | None) -> bool:
        return fault in (None, "truncate", "wrong-id")

    async def answer(self, query: bytes, tcp: bool, ask) -> bytes | None:
        """The answer to one query: relayed, or broken by the fault (ask: the upstream)."""
        fault = self.fault_for(query)
        if fault == "drop":
            return None
        reply = None
        if self.needs_upstream(fault) and not (fault == "truncate" and not tcp):
            reply = await ask(query)
        if fault is not None:
            reply = self.broken(fault, query, reply, tcp)
        if reply is not None and self.delay:
            await asyncio.sleep(self.delay)
        return reply

    def spawn(self, coro) -> None:
        if len(self.pending) >= self.max_pending:
            coro.close()  # over the bound: this query is dropped
            return
        task = asyncio.ensure_future(coro)
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def exchange_udp(self, query: bytes) -> bytes | None:
        """Send one datagram upstream, wait for its answer (None on timeout)."""
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[bytes] = loop.create_future()

        class Back(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr) -> None:
                if not reply.done():
                    reply.set_result(data)

        transport, _ = await loop.create_datagram_endpoint(
            Back, remote_addr=(LOOPBACK, self.upstream)
        )
        try:
            transport.sendto(query)
            return await asyncio.wait_for(reply, self.upstream_timeout)
        except (TimeoutError, OSError):
            return None
        finally:
            transport.close()


class UdpFront(asyncio.DatagramProtocol):
    def __init__(self, relay: Relay):
        self.relay = relay
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        if self.relay.fault != "drop" or self.relay.only:
            self.relay.spawn(self.answer(data, addr))

    async def answer(self, query: bytes, addr) -> None:
        reply = await self.relay.answer(query, False, self.relay.exchange_udp)
        if reply is None:
            return
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)


async def _pipe(
    src: asyncio.StreamReader, dst: asyncio.StreamWriter, delay: float, idle: float
) -> None:
    try:
        while data := await asyncio.wait_for(src.read(65535), idle):
            if delay:
                await asyncio.sleep(delay)
            dst.write(data)
            await dst.drain()
    except (TimeoutError, OSError):
        pass
    finally:
        dst.close()


def tcp_handler(relay: Relay):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if relay.connections >= relay.max_pending:
            writer.close()
            return
        relay.connections += 1
        try:
            if relay.fault == "drop" and not relay.only:
                # Hold the connection and answer nothing, until the client gives up.
                with contextlib.suppress(TimeoutError, OSError):
                    while await asyncio.wait_for(reader.read(65535), relay.idle_timeout):
                        pass
                return
            if relay.fault is not None:
                await _answer_tcp(relay, reader, writer)
                return
            try:
                up_reader, up_writer = await asyncio.wait_for(
                    asyncio.open_connection(LOOPBACK, relay.upstream), relay.upstream_timeout
                )
            except (TimeoutError, OSError):
                return
            await asyncio.gather(
                _pipe(reader, up_writer, 0, relay.idle_timeout),
                _pipe(up_reader, writer, relay.delay, relay.idle_timeout),
            )
        finally:
            relay.connections -= 1
            writer.close()

    return handle


async def _read_framed(reader: asyncio.StreamReader, timeout: float) -> bytes | None:
    """One length-prefixed DNS message from a TCP stream (None at EOF or on timeout)."""
    try:
        size = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), timeout))[0]
        return await asyncio.wait_for(reader.readexactly(size), timeout)
    except (TimeoutError, OSError, asyncio.IncompleteReadError):
        return None


async def _answer_tcp(
    relay: Relay, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Message by message over TCP, each answered as `relay.answer` decides (faults apply)."""

    async def ask(query: bytes) -> bytes | None:
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(LOOPBACK, relay.upstream), relay.upstream_timeout
            )
        except (TimeoutError, OSError):
            return None
        try:
            up_writer.write(struct.pack("!H", len(query)) + query)
            await up_writer.drain()
            return await _read_framed(up_reader, relay.upstream_timeout)
        finally:
            up_writer.close()

    while (query := await _read_framed(reader, relay.idle_timeout)) is not None:
        reply = await relay.answer(query, True, ask)
        if reply is None:
            continue  # dropped: the client waits until its own timeout
        writer.write(struct.pack("!H", len(reply)) + reply)
        with contextlib.suppress(OSError):
            await writer.drain()


async def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        await asyncio.sleep(0.5)


async def _bind(
    relay: Relay, listen_port: int
) -> tuple[asyncio.DatagramTransport, asyncio.Server, int]:
    """UDP and TCP on one port: `listen_port`, or (0) the port the kernel gives the UDP socket,
    again with another when TCP is taken there."""
    loop = asyncio.get_running_loop()
    for _ in range(1 if listen_port else 20):
        udp, _ = await loop.create_datagram_endpoint(
            lambda: UdpFront(relay), local_addr=(LOOPBACK, listen_port)
        )
        port = udp.get_extra_info("sockname")[1]
        try:
            server = await asyncio.start_server(tcp_handler(relay), LOOPBACK, port)
        except OSError:
            udp.close()
            if listen_port:
                raise
            continue
        return udp, server, port
    raise OSError("no port free for both UDP and TCP on the loopback")


async def serve(args: argparse.Namespace) -> None:
    relay = Relay(args)
    loop = asyncio.get_running_loop()
    udp, server, port = await _bind(relay, args.listen_port)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    waits = [asyncio.ensure_future(stop.wait())]
    if args.exit_with_parent:
        waits.append(asyncio.ensure_future(_watch_parent(os.getppid())))
    mode = relay.fault or f"delay {args.delay_ms:g} ms"
    if relay.only:
        mode += " for " + ", ".join(sorted(relay.only))
    print(
        f"ready {LOOPBACK}:{port} -> {LOOPBACK}:{args.upstream_port} ({mode})",
        flush=True,
    )
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        server.close()
        udp.close()
        for task in [*waits, *relay.pending]:
            task.cancel()


def parse_args(argv: list[str]) -> argparse.Namespace:
    def port(text: str) -> int:
        value = int(text)
        if not 0 <= value < 65536:
            raise argparse.ArgumentTypeError(f"port out of range: {text}")
        return value

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("listen_port", type=port)
    parser.add_argument("upstream_port", type=port)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="added to every answer")
    parser.add_argument("--drop", action="store_true", help="answer nothing at all")
    parser.add_argument("--fault", choices=FAULTS, help="break the answers this way")
    parser.add_argument(
        "--only", action="append", default=[], metavar="NAME", help="fault only this name"
    )
    parser.add_argument(
        "--refuse", action="append", default=[], metavar="NAME", help="REFUSE this name"
    )
    parser.add_argument("--max-pending", type=int, default=512)
    parser.add_argument("--upstream-timeout", type=float, default=5.0)
    parser.add_argument("--idle-timeout", type=float, default=30.0)
    parser.add_argument("--exit-with-parent", action="store_true")
    args = parser.parse_args(argv)
    if args.delay_ms < 0:
        parser.error("--delay-ms must not be negative")
    if args.refuse:
        if args.fault not in (None, "refused") or args.drop:
            parser.error("--refuse goes with no other fault")
        args.fault, args.only = "refused", [*args.only, *args.refuse]
    if args.only and not (args.fault or args.drop):
        parser.error("--only needs --fault (or --drop)")
    return args


def main(argv: list[str] | None = None) -> None:
    asyncio.run(serve(parse_args(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    main()
