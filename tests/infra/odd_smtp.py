"""SMTP servers that misbehave in ways Postfix cannot be told to: for the probe's failure paths.

    server = OddSmtpServer.start("421")    # banner "421 ..." then hang up
    server = OddSmtpServer.start("stall")  # banner 220, reads EHLO, never answers
    server = OddSmtpServer.start("ehlo451")      # EHLO answered 451 (try later)
    server = OddSmtpServer.start("starttls454")  # STARTTLS advertised, answered 454
    server = OddSmtpServer.start("plaintls")     # STARTTLS 220, then plain text, not TLS
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

MODES = ("421", "stall", "ehlo451", "starttls454", "plaintls")


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
            if self.mode != "stall":
                await self._dialogue(reader, writer)
                return
            writer.write(b"220 mx.odd.test ESMTP stalling\r\n")
            await writer.drain()
            await reader.readline()  # EHLO, never answered
            await reader.read()  # hold until the client hangs up
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _dialogue(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mx.odd.test ESMTP odd\r\n")
        await writer.drain()
        while line := await reader.readline():
            command = line.strip().upper()
            if command.startswith(b"EHLO"):
                if self.mode == "ehlo451":
                    writer.write(b"451 4.3.0 try again later\r\n")
                else:
                    writer.write(b"250-mx.odd.test\r\n250 STARTTLS\r\n")
            elif command == b"STARTTLS" and self.mode == "starttls454":
                writer.write(b"454 4.7.0 TLS not available due to temporary reason\r\n")
            elif command == b"STARTTLS":  # plaintls: agree, then answer the handshake in text
                writer.write(b"220 2.0.0 ready\r\n")
                await writer.drain()
                await reader.read(1)
                writer.write(b"this is not TLS\r\n" * 4)
                await writer.drain()
                return
            elif command == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                return
            else:
                writer.write(b"502 5.5.2 not here\r\n")
            await writer.drain()

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
