"""The tool's one HTTP client: httpx over connections to the addresses our resolver returned.

MTA-STS and BIMI fetches (audit/net/https.py) and the ESP API senders (audit/seed/send/
http_api.py) both need what a stock client does not do: connect to addresses looked up through
`audit.net.dns.Resolver` (never getaddrinfo), each one checked by the address guard first when
DNS data named the host, while TLS still sends the URL's host as SNI and verifies the
certificate against it; no redirect followed; bounded bodies; a bound on every step. httpx (with
h11 underneath) does the HTTP; `PinnedBackend` is the httpcore network backend that decides
where a connection goes and remembers what happened on the way (which address answered, why the
others did not), so callers can say it in their own words.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

from audit.net import address_guard

# httpcore's DEBUG trace prints response headers verbatim: a server that echoes a credential
# would put it in our logs. Its INFO and above say nothing of the kind.
logging.getLogger("httpcore").setLevel(logging.INFO)


def hostport(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


@dataclass
class Attempts:
    """What connecting found: the address that took the connection, the ones that did not (and
    why), the ones the address guard refused, and whether any attempt timed out."""

    connected: str | None = None
    tried: str | None = None  # the last address a connection was attempted to
    problems: list[str] = field(default_factory=list)  # "127.0.0.2:443: Connection refused"
    not_public: list[tuple[str, str]] = field(default_factory=list)  # (address, why)
    timed_out: bool = False
    last_error: OSError | None = None


class NoConnection(Exception):
    """No address took the TCP connection (or the guard refused them all): see `attempts`."""

    def __init__(self, attempts: Attempts) -> None:
        super().__init__("; ".join(attempts.problems) or "no address to connect to")
        self.attempts = attempts


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """TCP to `addresses` in turn until one accepts, whatever host the request names.

    With `guard`, each address goes through the address guard first (`allow_private` is
    --allow-private-addresses): the address checked is the address connected to.
    """

    def __init__(
        self, addresses: Sequence[str], *, guard: bool = True, allow_private: bool = False
    ) -> None:
        self.addresses = list(addresses)
        self.guard, self.allow_private = guard, allow_private
        self.attempts = Attempts()
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        attempts = self.attempts
        for address in self.addresses:
            if self.guard:
                try:
                    address_guard.check_address(address, self.allow_private)
                except address_guard.AddressNotPublic as refused:
                    attempts.not_public.append((address, refused.reason))
                    continue
            attempts.tried = address
            try:
                stream = await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )  # fmt: skip
            except httpcore.ConnectTimeout:
                attempts.timed_out = True
                attempts.problems.append(
                    f"{hostport(address, port)}: no answer within {timeout:g}s"
                )
            except httpcore.ConnectError as exc:
                cause = os_error(exc)
                attempts.last_error = cause
                attempts.problems.append(f"{hostport(address, port)}: {os_reason(cause, exc)}")
            else:
                attempts.connected = address
                return stream
        raise NoConnection(attempts)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def os_error(exc: BaseException) -> OSError | None:
    """The OSError behind an httpx/httpcore exception, if there is one: the one with an errno
    when anyio put the socket's errors in a group behind "All connection attempts failed"."""
    seen: BaseException | None = exc
    found: OSError | None = None
    while seen is not None:
        if isinstance(seen, OSError):
            if seen.errno:
                return seen
            found = found or seen
        if isinstance(seen, BaseExceptionGroup):
            inner = [os_error(e) for e in seen.exceptions]
            return next((e for e in inner if e is not None and e.errno), found)
        seen = seen.__cause__ or seen.__context__
    return found


def os_reason(cause: OSError | None, fallback: BaseException) -> str:
    if cause is not None and cause.errno:
        return os.strerror(cause.errno)
    return str(cause or fallback) or type(fallback).__name__


def cause_of(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first exception of `kind` in the chain behind `exc` (httpx wraps httpcore's, which
    wrap ssl's and the socket's)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's HTTP/1.1 transport over a PinnedBackend: one connection, no retries."""

    def __init__(self, backend: PinnedBackend, ssl_context: ssl.SSLContext) -> None:
        super().__init__(verify=ssl_context, trust_env=False, retries=0)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            network_backend=backend,
            max_connections=1,
            http1=True,
            http2=False,
            retries=0,
        )


def pinned_client(
    backend: PinnedBackend,
    ssl_context: ssl.SSLContext,
    timeout: float,
    headers: dict[str, str],
) -> httpx.AsyncClient:
    """A client for one request over `backend`: connect, read, write and pool each bounded by
    `timeout`, redirects returned (never followed), no proxy or netrc from the environment."""
    return httpx.AsyncClient(
        transport=PinnedTransport(backend, ssl_context),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
        headers=headers,
    )


async def read_bounded(response: httpx.Response, max_bytes: int) -> tuple[bytes, bool]:
    """The body as it came (no content decoding), up to `max_bytes`: (body, truncated). Stops
    reading at the limit instead of draining the rest."""
    if response.is_stream_consumed:  # a transport that hands over whole responses (tests)
        whole = response.content
        return whole[:max_bytes], len(whole) > max_bytes
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        room = max_bytes - size
        if len(chunk) > room:
            chunks.append(chunk[:room])
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


def tls_details(response: httpx.Response) -> tuple[str | None, bytes | None]:
    """(TLS version, the leaf certificate in DER) of the connection a response came over."""
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    if ssl_object is None:
        return None, None
    return ssl_object.version(), ssl_object.getpeercert(binary_form=True)
