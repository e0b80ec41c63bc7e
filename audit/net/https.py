"""One HTTPS GET, the way an MTA-STS sender or a BIMI receiver makes it.

The HTTP is httpx's (audit/net/http_client.py); the rules are the fetch's own: the host name is
resolved through our `Resolver` (never the OS resolver), the connection goes to those addresses
(on a port the tests may choose) with SNI and the certificate check for the host, redirects are
reported and never followed, headers and body are bounded, and every failure comes back as a
kind (dns, connect, tls, timeout, http, not-public) with the reason a person can act on (an
untrusted, mismatched or expired certificate, named all at once), not as an exception. The host
comes from DNS data (an MTA-STS policy host, a BIMI URL): the address guard
(audit/net/address_guard.py) refuses to connect to a non-public address unless `allow_private`
is set.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import re
import ssl
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from audit import __version__
from audit.net.dns import DnsAnswer, Resolver, normalize_name
from audit.net.http_client import (
    Attempts,
    NoConnection,
    PinnedBackend,
    cause_of,
    hostport,
    os_error,
    pinned_client,
    read_bounded,
    tls_details,
)

MAX_HEADER_BYTES = 32 * 1024
MAX_HEADERS = 100

# OpenSSL X509_V_ERR_* codes the verification failure reports (ssl.SSLCertVerificationError).
_EXPIRED_CODES = {9: "not-yet-valid", 10: "expired"}
_NAME_MISMATCH_CODE = 62
_UNTRUSTED_CODES = {2, 18, 19, 20, 21, 27, 28, 24, 32}


class FetchError(enum.Enum):
    """Where a fetch failed: each needs a different fix."""

    DNS = "dns"  # the host name has no address (or the lookup failed: see `temperror`)
    CONNECT = "connect"  # refused / unreachable on every address
    TLS = "tls"  # handshake failed; `tls_problems` says why (untrusted, name-mismatch, expired)
    TIMEOUT = "timeout"  # a step (connect, tls, read) took longer than the timeout
    HTTP = "http"  # the server's answer is not a readable HTTP/1.x response
    NOT_PUBLIC = "not-public"  # every address is non-public: refused by the address guard


@dataclass
class CertInfo:
    """The server's leaf certificate, as evidence."""

    subject: str
    issuer: str
    names: list[str]
    not_before: str
    not_after: str

    @classmethod
    def from_der(cls, der: bytes) -> CertInfo | None:
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            return None
        return cls(
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            names=_dns_names(cert),
            not_before=cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            not_after=cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "names": self.names,
            "not_before": self.not_before,
            "not_after": self.not_after,
        }


@dataclass
class HttpsResult:
    """What one GET gave: a response (status, headers, bounded body) or an error kind."""

    url: str
    host: str
    port: int
    path: str
    addresses: list[str] = field(default_factory=list)
    address: str | None = None  # the address the response (or the TLS failure) came from
    status: int | None = None
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    truncated: bool = False  # the body was longer than the limit; `body` holds the first part
    error: FetchError | None = None
    detail: str = ""  # one line: what failed and how
    tls_problems: list[str] = field(default_factory=list)  # untrusted, name-mismatch, expired...
    certificate: CertInfo | None = None
    tls_version: str | None = None
    dns: list[DnsAnswer] = field(default_factory=list)
    temperror: DnsAnswer | None = None  # DNS could not tell: unknown, not "no address"
    not_public: list[tuple[str, str]] = field(default_factory=list)  # (address, why) not tried
    elapsed_ms: float = 0.0

    def header(self, name: str) -> str | None:
        """The first header of that name (case-insensitive), or None."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    @property
    def media_type(self) -> str | None:
        value = self.header("content-type")
        return value.split(";", 1)[0].strip().lower() if value is not None else None

    @property
    def location(self) -> str | None:
        return self.header("location")

    @property
    def redirect(self) -> bool:
        return self.status is not None and 300 <= self.status < 400

    def describe(self) -> str:
        """One line for evidence: `GET https://... (127.0.0.1:443) -> 200 OK, 123 bytes`."""
        where = f" ({_hostport(self.address, self.port)})" if self.address else ""
        if self.error is not None:
            return f"GET {self.url}{where} -> {self.error.value} error: {self.detail}"
        size = f"{len(self.body)} bytes" + (" (truncated)" if self.truncated else "")
        extra = f", Location: {self.location}" if self.redirect and self.location else ""
        ctype = self.header("content-type")
        typed = f", Content-Type: {ctype}" if ctype else ""
        return f"GET {self.url}{where} -> {self.status} {self.reason}, {size}{typed}{extra}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "host": self.host,
            "port": self.port,
            "addresses": self.addresses,
            "address": self.address,
            "status": self.status,
            "reason": self.reason,
            "headers": [[k, v] for k, v in self.headers],
            "size": len(self.body),
            "truncated": self.truncated,
            "error": self.error.value if self.error else None,
            "detail": self.detail,
            "tls_problems": self.tls_problems,
            "tls_version": self.tls_version,
            "certificate": self.certificate.to_dict() if self.certificate else None,
            "not_public": [{"address": a, "reason": r} for a, r in self.not_public],
            "elapsed_ms": round(self.elapsed_ms, 3),
        }


_hostport = hostport


class _Failure(Exception):
    """Ends a fetch with an error kind (internal)."""

    def __init__(self, kind: FetchError, detail: str):
        super().__init__(detail)
        self.kind, self.detail = kind, detail


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Verification as a sender does it: the CA file if given (tests), else the system store."""
    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


async def fetch(
    resolver: Resolver,
    url: str,
    *,
    port: int | None = None,
    ca_file: str | None = None,
    timeout: float = 5.0,
    max_bytes: int = 64 * 1024,
    allow_private: bool = False,
) -> HttpsResult:
    """GET `url` (https only). `port` (--https-port, for tests) applies when the URL names no
    port of its own; redirects are not followed. Never raises for what the peer sends.

    Only public addresses of the host are contacted (`not_public` lists the others; none left
    is a NOT_PUBLIC error) unless `allow_private` (--allow-private-addresses).

    Each step (connect, TLS handshake, reading the response) is bounded by `timeout`. The body
    is read up to `max_bytes`; more sets `truncated`.
    """
    start = time.perf_counter()
    try:
        parts = urlsplit(url)
        url_port, hostname = parts.port, parts.hostname
    except ValueError as exc:  # "[::1", a port over 65535: what a record can hold
        result = HttpsResult(url=url, host="", port=port or 443, path="/")
        result.error, result.detail = FetchError.HTTP, f"{url!r} is not a valid URL: {exc}"
        return result
    host = normalize_name(hostname or "")
    # the request line must be ASCII: a record's raw UTF-8 path is percent-encoded
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=~-._") + (
        f"?{quote(parts.query, safe='/%:@!$&()*+,;=?~-._')}" if parts.query else ""
    )
    chosen = url_port or port or 443
    result = HttpsResult(url=url, host=host, port=chosen, path=path)
    try:
        if parts.scheme.lower() != "https" or not host:
            raise _Failure(FetchError.HTTP, f"{url!r} is not an https:// URL with a host")
        await _resolve(resolver, result)
        await _get(result, ca_file, timeout, max_bytes, allow_private)
    except _Failure as failure:
        result.error, result.detail = failure.kind, failure.detail
    except ssl.SSLError as exc:  # e.g. a --ca-file without a certificate in it
        result.error, result.detail = FetchError.TLS, f"TLS setup failed: {exc}"
    except (ValueError, UnicodeError, LookupError, httpx.HTTPError) as exc:
        # whatever else the peer sends that the reading above does not expect is a bad response
        result.error, result.detail = FetchError.HTTP, f"malformed response: {exc}"
    result.elapsed_ms = (time.perf_counter() - start) * 1000
    return result


async def _resolve(resolver: Resolver, result: HttpsResult) -> None:
    """A then AAAA, through our resolver; a temperror with no address is unknown, not absent."""
    found = await resolver.host_addresses(result.host)
    result.dns = list(found.answers)
    result.addresses = found.addresses
    if result.addresses:
        return
    failed = found.temperror
    if failed is not None:
        result.temperror = failed
        raise _Failure(FetchError.DNS, f"{failed.describe()}: the address lookup failed")
    raise _Failure(FetchError.DNS, found.absence)


async def _get(
    result: HttpsResult, ca_file: str | None, timeout: float, max_bytes: int, allow_private: bool
) -> None:
    """The GET over httpx, connected to the resolved addresses the guard lets through (TLS with
    SNI and the name check against the host); every failure becomes a _Failure."""
    backend = PinnedBackend(result.addresses, guard=True, allow_private=allow_private)
    context = tls_context(ca_file)
    host = f"[{result.host}]" if ":" in result.host else result.host
    headers = {
        "Host": result.host,
        "User-Agent": f"audit/{__version__}",
        "Accept": "*/*",
        "Accept-Encoding": "identity",
        "Connection": "close",
    }
    # each step is bounded by `timeout` (httpx); all of them together by this
    total = timeout * (len(result.addresses) + 2)
    try:
        async with (
            asyncio.timeout(total),
            pinned_client(backend, context, timeout, headers) as client,
            client.stream("GET", f"https://{host}:{result.port}{result.path}") as response,
        ):
            result.address = backend.attempts.connected
            result.status, result.reason = response.status_code, response.reason_phrase
            result.headers = _bounded_headers(response.headers.raw)
            result.tls_version, der = tls_details(response)
            result.certificate = CertInfo.from_der(der) if der else None
            result.body, result.truncated = await read_bounded(response, max_bytes)
    except NoConnection as failed:
        raise _connect_failure(failed.attempts) from None
    except httpx.ConnectTimeout:
        raise _Failure(FetchError.TIMEOUT, f"TLS handshake took over {timeout:g}s") from None
    except httpx.ConnectError as exc:  # TCP was up (else NoConnection): the TLS handshake
        result.address = backend.attempts.connected
        verify = cause_of(exc, ssl.SSLCertVerificationError)
        if isinstance(verify, ssl.SSLCertVerificationError):
            await _diagnose_certificate(result, verify, timeout)
            raise _Failure(
                FetchError.TLS,
                f"certificate rejected ({', '.join(result.tls_problems)}): {verify.verify_message}",
            ) from None
        tls_error = cause_of(exc, ssl.SSLError) or os_error(exc) or exc
        raise _Failure(FetchError.TLS, f"TLS handshake failed: {_ssl_reason(tls_error)}") from None
    except httpx.TimeoutException:  # one read or write step
        raise _Failure(FetchError.TIMEOUT, f"no complete response within {timeout:g}s") from None
    except TimeoutError:  # the steps together
        raise _Failure(FetchError.TIMEOUT, f"no complete response within {total:g}s") from None
    except httpx.RemoteProtocolError as exc:
        raise _Failure(FetchError.HTTP, _protocol_problem(str(exc))) from None
    except httpx.TransportError as exc:  # read/write errors: the peer went away
        raise _Failure(FetchError.HTTP, f"connection failed mid-response: {exc}") from None
    finally:
        result.not_public = backend.attempts.not_public
        result.address = result.address or backend.attempts.tried


def _connect_failure(attempts: Attempts) -> _Failure:
    """No address took the connection: refused by the guard, refused, or silent."""
    if not attempts.problems:
        return _Failure(
            FetchError.NOT_PUBLIC,
            "; ".join(
                f"refused to connect to {a}: not a public address ({r})"
                for a, r in attempts.not_public
            ),
        )
    kind = FetchError.TIMEOUT if attempts.timed_out else FetchError.CONNECT
    return _Failure(kind, "connect failed: " + "; ".join(attempts.problems))


def _ssl_reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return reason or str(exc) or type(exc).__name__


async def _diagnose_certificate(
    result: HttpsResult, exc: ssl.SSLCertVerificationError, timeout: float
) -> None:
    """Every problem with the certificate, not only the first one OpenSSL stopped at.

    OpenSSL reports one error. A second handshake without verification fetches the leaf, so the
    report can say "untrusted and expired and for another name" and show what was presented.
    """
    problems: list[str] = []
    code = exc.verify_code
    if code in _UNTRUSTED_CODES:
        problems.append("untrusted")
    elif code == _NAME_MISMATCH_CODE:
        problems.append("name-mismatch")
    elif code in _EXPIRED_CODES:
        problems.append(_EXPIRED_CODES[code])
    cert = await _peek_certificate(result, timeout)
    if cert is not None:
        result.certificate = CertInfo.from_der(cert.public_bytes(Encoding.DER))
        now = dt.datetime.now(dt.UTC)
        if cert.not_valid_after_utc < now:
            problems.append("expired")
        elif cert.not_valid_before_utc > now:
            problems.append("not-yet-valid")
        if not name_matches(result.host, _dns_names(cert)):
            problems.append("name-mismatch")
    if not problems:
        problems.append(f"verify-error-{code}")
    result.tls_problems = list(dict.fromkeys(problems))


async def _peek_certificate(result: HttpsResult, timeout: float) -> x509.Certificate | None:
    # `result.address` is the address `_connect` reached: it passed the guard already
    if result.address is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    writer = None
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(
                result.address,
                result.port,
                ssl=context,
                server_hostname=result.host,
                ssl_handshake_timeout=timeout + 1,
            )
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
        return x509.load_der_x509_certificate(der) if der else None
    except (OSError, TimeoutError, ssl.SSLError, ValueError):
        return None
    finally:
        if writer is not None:
            writer.close()


def _dns_names(cert: x509.Certificate) -> list[str]:
    """The DNS names a certificate is for: its SAN dNSNames (the CN is not consulted, as
    OpenSSL's host check and RFC 6125 do not)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [n.lower() for n in san.get_values_for_type(x509.DNSName)]


def name_matches(host: str, names: list[str]) -> bool:
    """RFC 6125 6.4: exact match, or a `*` as the whole leftmost label matching one label."""
    host = normalize_name(host)
    for name in names:
        name = normalize_name(name)
        if name == host:
            return True
        if name.startswith("*.") and "." in host:
            label, rest = host.split(".", 1)
            if label and rest == name[2:] and rest.count(".") >= 1:
                return True
    return False


def _bounded_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """The response headers as text, within the bounds (README "Resource bounds"): one line at
    most MAX_HEADER_BYTES, all of them together too, at most MAX_HEADERS of them."""
    headers: list[tuple[str, str]] = []
    total = 0
    for name, value in raw:
        line = len(name) + 2 + len(value)
        if line > MAX_HEADER_BYTES:
            raise _Failure(FetchError.HTTP, "a header line is too long")
        total += line
        if total > MAX_HEADER_BYTES or len(headers) >= MAX_HEADERS:
            raise _Failure(FetchError.HTTP, "the response headers are too large")
        headers.append((name.decode("latin-1"), value.decode("latin-1")))
    return headers


# What h11 says about a response it could not read, in the words our reports use.
_PROTOCOL_PROBLEMS = (
    ("status line", "not an HTTP/1.x status line"),
    ("content-length", "invalid Content-Length"),
    ("chunk", "bad chunk size line"),
    ("receive buffer too long", "the response headers are too large"),
)


def _protocol_problem(text: str) -> str:
    text = re.sub(r"bytearray\((b'.*?')\)", r"\1", text)  # h11 shows the bytes it read
    lowered = text.lower()
    for marker, words in _PROTOCOL_PROBLEMS:
        if marker in lowered:
            return f"{words}: {text[:120]}"
    return f"malformed response: {text[:120]}"
