"""A UDP+TCP DNS proxy on loopback that delays or drops every query: timeouts and latency.

    python tests/infra/dns_proxy.py LISTEN_PORT UPSTREAM_PORT [--delay-ms N] [--drop]

Prints one "ready" line once listening. Upstream is 127.0.0.1:UPSTREAM_PORT. Loopback only;
each relayed query waits at most 5 s for the upstream.
"""

from __future__ import annotations

import argparse
import asyncio


class Front(asyncio.DatagramProtocol):
    def __init__(self, upstream: int, delay: float, drop: bool):
        self.upstream, self.delay, self.drop = upstream, delay, drop

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        if not self.drop:
            asyncio.ensure_future(self.relay(data, addr))

    async def relay(self, data: bytes, addr) -> None:
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[bytes] = loop.create_future()

        class Back(asyncio.DatagramProtocol):
            def datagram_received(self, d, a):
                if not reply.done():
                    reply.set_result(d)

        transport, _ = await loop.create_datagram_endpoint(
            Back, remote_addr=("127.0.0.1", self.upstream)
        )
        try:
            transport.sendto(data)
            answer = await asyncio.wait_for(reply, 5)
        except TimeoutError:
            return
        finally:
            transport.close()
        await asyncio.sleep(self.delay)
        self.transport.sendto(answer, addr)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("listen", type=int)
    parser.add_argument("upstream", type=int)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--drop", action="store_true")
    args = parser.parse_args()
    delay = args.delay_ms / 1000
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(
        lambda: Front(args.upstream, delay, args.drop), local_addr=("127.0.0.1", args.listen)
    )

    async def tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if args.drop:
            await reader.read()  # hold the connection, answer nothing
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", args.upstream)

        async def pipe(src, dst, wait):
            while data := await src.read(65535):
                if wait:
                    await asyncio.sleep(delay)
                dst.write(data)
                await dst.drain()
            dst.close()

        await asyncio.gather(
            pipe(reader, up_writer, False), pipe(up_reader, writer, True), return_exceptions=True
        )

    server = await asyncio.start_server(tcp, "127.0.0.1", args.listen)
    mode = "drop" if args.drop else f"delay {args.delay_ms:g} ms"
    print(f"ready: 127.0.0.1:{args.listen} -> 127.0.0.1:{args.upstream} ({mode})", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
