"""SMTP servers that misbehave in ways Postfix cannot be told to: for the probe's failure paths.

    server = OddSmtpServer.start("421")    # banner "421 ..." then hang up
    server = OddSmtpServer.start("stall")  # banner 220, reads EHLO, never answers
    server.port; server.stop()

Each runs an asyncio server on 127.0.0.1 in a daemon thread of the test process (so it dies
with it). Stalled connections are held until the client leaves or the server stops.
"""

from __future__ import annotations

import asyncio
import threading

try:
    from tests.infra.netutil import IPV4_LOOPBACK
except ImportError:  # pragma: no cover
    from netutil import IPV4_LOOPBACK  # type: ignore[no-redef]

MODES = ("421", "stall")


class OddSmtpServer:
    def __init__(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.mode = mode
        self.host = IPV4_LOOPBACK
        self.port = 0
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @classmethod
    def start(cls, mode: str) -> OddSmtpServer:
        server = cls(mode)
        server._thread.start()
        future = asyncio.run_coroutine_threadsafe(server._listen(), server._loop)
        future.result(timeout=10)
        return server

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            if self.mode == "421":
                writer.write(b"421 4.3.2 mx.odd.test Service not available, try again later\r\n")
                await writer.drain()
                return
            writer.write(b"220 mx.odd.test ESMTP stalling\r\n")
            await writer.drain()
            await reader.readline()  # EHLO, never answered
            await reader.read()  # hold until the client hangs up
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()
