"""A lean UDP/TCP relay in front of a DNS server that holds every answer back by a fixed delay.

    python bench/delay_relay.py LISTEN_PORT UPSTREAM_PORT DELAY_MS

For benchmarks at thousands of queries a second on a small machine: one socket each way and
no task per query (tests/infra/dns_proxy.py opens a socket and a task per query, fine for
tests, the bottleneck at scale). Query ids are rewritten upstream so clients cannot collide;
an answer not back from upstream within 5 s is forgotten (the client times out, as it would).
TCP connections are piped through with the same delay. Prints "ready" once listening.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.infra.dns_proxy import LOOPBACK, _pipe  # noqa: E402 - TCP: the same piping


class Relay:
    def __init__(self, upstream: int, delay: float) -> None:
        self.upstream, self.delay = upstream, delay
        self.front: asyncio.DatagramTransport | None = None
        self.back: asyncio.DatagramTransport | None = None
        self.waiting: dict[int, tuple[bytes, tuple, float]] = {}  # new id -> (old id, addr, t)
        self.next_id = 0

    def query(self, data: bytes, addr) -> None:
        if len(data) < 12 or self.back is None:
            return
        for _ in range(65536):
            self.next_id = (self.next_id + 1) & 0xFFFF
            if self.next_id not in self.waiting:
                break
        else:
            return  # 65536 in flight: drop
        self.waiting[self.next_id] = (data[:2], addr, time.monotonic())
        self.back.sendto(self.next_id.to_bytes(2, "big") + data[2:])

    def answer(self, data: bytes) -> None:
        entry = self.waiting.pop(int.from_bytes(data[:2], "big"), None) if len(data) >= 12 else None
        if entry is None or self.front is None:
            return
        old_id, addr, _ = entry
        loop = asyncio.get_running_loop()
        loop.call_later(self.delay, self.front.sendto, old_id + data[2:], addr)

    def expire(self) -> None:
        limit = time.monotonic() - 5
        for key in [k for k, (_, _, t) in self.waiting.items() if t < limit]:
            del self.waiting[key]


class Front(asyncio.DatagramProtocol):
    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    def connection_made(self, transport) -> None:
        self.relay.front = transport

    def datagram_received(self, data: bytes, addr) -> None:
        self.relay.query(data, addr)


class Back(asyncio.DatagramProtocol):
    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    def connection_made(self, transport) -> None:
        self.relay.back = transport

    def datagram_received(self, data: bytes, addr) -> None:
        self.relay.answer(data)


async def main(port: int, upstream: int, delay: float) -> None:
    loop = asyncio.get_running_loop()
    relay = Relay(upstream, delay)
    await loop.create_datagram_endpoint(lambda: Front(relay), local_addr=(LOOPBACK, port))
    await loop.create_datagram_endpoint(lambda: Back(relay), remote_addr=(LOOPBACK, upstream))

    async def tcp(reader, writer) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(LOOPBACK, upstream)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer, 0, 30), _pipe(up_reader, writer, delay, 30))

    server = await asyncio.start_server(tcp, LOOPBACK, port)
    parent = os.getppid()
    print("ready", flush=True)
    async with server:
        while os.getppid() == parent:  # the benchmark that started us is gone: stop
            await asyncio.sleep(1)
            relay.expire()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000))
