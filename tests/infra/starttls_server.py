"""A minimal SMTP server with STARTTLS that presents a given certificate chain: for the DANE
tests, where what matters is which certificate the MX host shows.

    server = StartTlsServer.start(cert_path, key_path)   # PEM: leaf + chain, key
    server.port; server.connections; server.stop()

Banner, EHLO (offering STARTTLS), STARTTLS, the TLS handshake, then EHLO/NOOP/QUIT; anything
else is refused with 502. It runs an asyncio server on 127.0.0.1 in a daemon thread of the test
process (it dies with it); every step is bounded so a silent client cannot hold it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from pathlib import Path

try:
    from tests.infra.netutil import IPV4_LOOPBACK
except ImportError:  # pragma: no cover
    from netutil import IPV4_LOOPBACK  # type: ignore[no-redef]

STEP_TIMEOUT = 10.0


class StartTlsServer:
    def __init__(self, cert_path: Path, key_path: Path, name: str = "mx.dane.test") -> None:
        self.name = name
        self.host = IPV4_LOOPBACK
        self.port = 0
        self.connections = 0
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(str(cert_path), str(key_path))
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @classmethod
    def start(cls, cert_path: Path, key_path: Path, name: str = "mx.dane.test") -> StartTlsServer:
        server = cls(cert_path, key_path, name)
        server._thread.start()
        asyncio.run_coroutine_threadsafe(server._listen(), server._loop).result(timeout=10)
        return server

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        secure = False

        async def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await asyncio.wait_for(writer.drain(), STEP_TIMEOUT)

        try:
            await say(f"220 {self.name} ESMTP test")
            while True:
                line = await asyncio.wait_for(reader.readline(), STEP_TIMEOUT)
                if not line:
                    return
                verb = line.decode("ascii", "replace").strip().split(" ")[0].upper()
                if verb in ("EHLO", "HELO"):
                    if secure:
                        await say(f"250-{self.name}\r\n250 8BITMIME")
                    else:
                        await say(f"250-{self.name}\r\n250-8BITMIME\r\n250 STARTTLS")
                elif verb == "STARTTLS" and not secure:
                    await say("220 2.0.0 Ready to start TLS")
                    await asyncio.wait_for(writer.start_tls(self.tls), STEP_TIMEOUT)
                    secure = True
                elif verb == "NOOP":
                    await say("250 2.0.0 OK")
                elif verb == "QUIT":
                    await say("221 2.0.0 Bye")
                    return
                else:
                    await say("502 5.5.2 Not implemented")
        except (OSError, ssl.SSLError, TimeoutError, asyncio.IncompleteReadError):
            pass  # a client that hangs up mid-handshake (version probes) is normal here
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._server.wait_closed(), 5)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
