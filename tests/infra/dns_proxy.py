"""A DNS proxy on loopback that delays or drops every query: timeouts and latency, on demand.

    python tests/infra/dns_proxy.py LISTEN_PORT UPSTREAM_PORT [--delay-ms N] [--drop]

Listens on 127.0.0.1:LISTEN_PORT (UDP and TCP) and relays to 127.0.0.1:UPSTREAM_PORT (Knot),
holding each answer back by N ms (latency benchmarks); with --drop it answers nothing at all
(timeout tests: a UDP query is swallowed, a TCP connection is held open and never answered).
Prints one line starting with "ready" once both sockets listen.

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
import sys

LOOPBACK = "127.0.0.1"


class Relay:
    """What to do with each query, and the bounds on how much is in flight."""

    def __init__(self, args: argparse.Namespace):
        self.upstream: int = args.upstream_port
        self.delay: float = args.delay_ms / 1000
        self.drop: bool = args.drop
        self.upstream_timeout: float = args.upstream_timeout
        self.idle_timeout: float = args.idle_timeout
        self.max_pending: int = args.max_pending
        self.pending: set[asyncio.Task[None]] = set()
        self.connections = 0

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
        if not self.relay.drop:
            self.relay.spawn(self.answer(data, addr))

    async def answer(self, query: bytes, addr) -> None:
        reply = await self.relay.exchange_udp(query)
        if reply is None:
            return
        await asyncio.sleep(self.relay.delay)
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
            if relay.drop:
                # Hold the connection and answer nothing, until the client gives up.
                with contextlib.suppress(TimeoutError, OSError):
                    while await asyncio.wait_for(reader.read(65535), relay.idle_timeout):
                        pass
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


async def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        await asyncio.sleep(0.5)


async def serve(args: argparse.Namespace) -> None:
    relay = Relay(args)
    loop = asyncio.get_running_loop()
    udp, _ = await loop.create_datagram_endpoint(
        lambda: UdpFront(relay), local_addr=(LOOPBACK, args.listen_port)
    )
    server = await asyncio.start_server(tcp_handler(relay), LOOPBACK, args.listen_port)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    waits = [asyncio.ensure_future(stop.wait())]
    if args.exit_with_parent:
        waits.append(asyncio.ensure_future(_watch_parent(os.getppid())))
    mode = "drop" if args.drop else f"delay {args.delay_ms:g} ms"
    print(
        f"ready {LOOPBACK}:{args.listen_port} -> {LOOPBACK}:{args.upstream_port} ({mode})",
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
        if not 0 < value < 65536:
            raise argparse.ArgumentTypeError(f"port out of range: {text}")
        return value

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("listen_port", type=port)
    parser.add_argument("upstream_port", type=port)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="added to every answer")
    parser.add_argument("--drop", action="store_true", help="answer nothing at all")
    parser.add_argument("--max-pending", type=int, default=512)
    parser.add_argument("--upstream-timeout", type=float, default=5.0)
    parser.add_argument("--idle-timeout", type=float, default=30.0)
    parser.add_argument("--exit-with-parent", action="store_true")
    args = parser.parse_args(argv)
    if args.delay_ms < 0:
        parser.error("--delay-ms must not be negative")
    return args


def main(argv: list[str] | None = None) -> None:
    asyncio.run(serve(parse_args(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    main()
