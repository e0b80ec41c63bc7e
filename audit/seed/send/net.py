"""Connecting the senders: names through our Resolver, TLS trust from --ca-file.

smtplib would look host names up with the OS resolver (getaddrinfo); the house rule is one
road to DNS. So the async side resolves the relay or API host through `audit.net.dns.Resolver`
first, and the connection goes to those addresses (smtplib: `connect` below, in a thread; the
HTTP APIs: audit/net/http_client.PinnedBackend) while TLS still verifies the certificate
against the host *name* (SNI and hostname check use the name).
"""

from __future__ import annotations

import socket
import ssl

from audit.net.dns import Resolver, build_resolver, is_ip_literal

from .base import SendError


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Verifying client context: the CA file alone when given (tests), else the system store."""
    return ssl.create_default_context(cafile=ca_file)


class HostResolver:
    """Host name -> addresses through our Resolver (made lazily, network backend, if none)."""

    def __init__(self, resolver: Resolver | None, timeout: float) -> None:
        self._resolver = resolver
        self._timeout = timeout

    async def addresses(self, host: str) -> list[str]:
        """IPv4 first, then IPv6. Raises SendError: retryable on temperror, else stop_run."""
        if is_ip_literal(host):
            return [host]
        if self._resolver is None:
            self._resolver = build_resolver(timeout=self._timeout)
        found = await self._resolver.host_addresses(host)
        if found.addresses:
            return found.addresses
        failed = found.temperror
        if failed is not None:
            raise SendError(
                f"cannot look up {host}: {failed.status.value}",
                permanent=False,
                code=None,
                unreachable=True,
            )
        raise SendError(found.absence, permanent=True, stop_run=True, unreachable=True)


class ConnectError(OSError):
    """No address of the host took a TCP connection (refused, timed out, unreachable): the
    server was never reached, so nothing was handed over. `cause` is the last failure."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(cause.errno, cause.strerror or type(cause).__name__)
        self.cause = cause


def connect(addresses: list[str], port: int, timeout: float, source_address=None) -> socket.socket:
    """A TCP connection to the first address that answers (blocking; called in a thread).
    Raises ConnectError when none does."""
    last: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout, source_address)
        except OSError as exc:
            last = exc
    raise ConnectError(last or OSError("no address to connect to"))


def describe_os_error(exc: BaseException) -> str:
    """A short, secret-free description of a network failure."""
    if isinstance(exc, ConnectError):
        return f"cannot connect: {describe_os_error(exc.cause)}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {exc.verify_message or exc.reason}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or type(exc).__name__}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
    return str(text)
