"""A small threaded HTTPS server on loopback for the MTA-STS and BIMI fetch tests.

One listening port serves many host names: the certificate is chosen by SNI (each host gets a
leaf from the test CA unless a test gives it another: self-signed, expired, for a wrong name),
and the response by the Host header and path. A test says what each (host, path) answers:
status, body, Content-Type, extra headers, chunked or Content-Length framing.

    server = HttpsServer.start(ca, tmp_path)
    server.route("mta-sts.x.test", "/.well-known/mta-sts.txt", body=b"version: STSv1\\n...")
    ... --https-port server.port --ca-file <ca.pem> ...
    server.stop()

Threads are daemons, so the server dies with the test process. `StallServer` accepts TCP and
never answers (handshake and read timeouts).
"""

from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.infra.certs import IssuedCert, TestCA
from tests.infra.netutil import IPV4_LOOPBACK

DEFAULT_HOST = "default.invalid"


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    content_type: str | None = "text/plain"
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
        path = self.path.split("?", 1)[0]
        self.server.owner.requests.append((host, path))
        route = self.server.owner.routes.get((host, path))
        if route is None:
            route = Route(status=404, body=b"not found\n")
        self.send_response(route.status)
        if route.content_type:
            self.send_header("Content-Type", route.content_type)
        for name, value in route.headers.items():
            self.send_header(name, value)
        if route.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(route.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if route.chunked:
            for start in range(0, len(route.body), 1000):
                piece = route.body[start : start + 1000]
                self.wfile.write(f"{len(piece):x};ext=1\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(route.body)
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # quiet tests


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: HttpsServer

    def finish_request(self, request, client_address) -> None:  # type: ignore[override]
        """The TLS handshake runs in the connection's own thread, never in the accept loop."""
        request.settimeout(10)
        try:
            tls = self.owner.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # the client refused our certificate, or went away
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (ssl.SSLError, OSError):
            pass
        finally:
            tls.close()


class HttpsServer:
    """Routes by (host, path); certificates by SNI. `port` is where to point --https-port."""

    def __init__(self, ca: TestCA, workdir: Path, httpd: _Server):
        self.ca, self.workdir, self.httpd = ca, workdir, httpd
        self.routes: dict[tuple[str, str], Route] = {}
        self.requests: list[tuple[str, str]] = []
        self._contexts: dict[str, ssl.SSLContext] = {}
        self.context = self._context_for(DEFAULT_HOST, ca.issue(DEFAULT_HOST))
        self.context.sni_callback = self._pick
        self._thread = threading.Thread(target=httpd.serve_forever, daemon=True)

    @classmethod
    def start(cls, ca: TestCA, workdir: Path) -> HttpsServer:
        httpd = _Server((IPV4_LOOPBACK, 0), _Handler)
        server = cls(ca, Path(workdir), httpd)
        httpd.owner = server
        server._thread.start()
        return server

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def _context_for(self, host: str, cert: IssuedCert) -> ssl.SSLContext:
        cert_path, key_path = cert.write(self.workdir, f"https-{host}-{len(self._contexts)}")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        return context

    def _pick(self, sock: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
        context = self._contexts.get((server_name or "").lower())
        if context is not None:
            sock.context = context

    def add_host(self, host: str, cert: IssuedCert | None = None) -> None:
        """Serve `host` with `cert` (default: a valid leaf for exactly that name)."""
        host = host.lower()
        self._contexts[host] = self._context_for(host, cert or self.ca.issue(host))

    def route(self, host: str, path: str, **response: object) -> Route:
        """What GET https://host/path answers (see Route); adds the host if new."""
        host = host.lower()
        if host not in self._contexts:
            self.add_host(host)
        route = Route(**response)  # type: ignore[arg-type]
        self.routes[(host, path)] = route
        return route

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=10)


class StallServer:
    """Accepts TCP connections and never says a word: every read on them times out."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((IPV4_LOOPBACK, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self._held.append(conn)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._held:
            conn.close()
        self.sock.close()
