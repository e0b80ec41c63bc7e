"""The STARTTLS probe of one MX address: banner, EHLO, STARTTLS, the TLS session and its chain.

A sending server connects to an MX, reads the banner, says EHLO, and upgrades with STARTTLS if
the server offers it. This probe does the same, then records what a sender would see: the
banner, the EHLO extensions, the negotiated TLS version and cipher, and the certificate chain
exactly as presented (leaf first). The handshake runs with verification off so the chain is
always there to judge; trust and name are judged afterwards (audit/records/certificate.py).

It then asks which protocol versions the server accepts (TLS 1.0 to 1.3), one pinned handshake
each on a fresh connection. Every step has its own timeout and the whole probe a deadline.

"Could not tell" is kept apart from "no": a refused or timed-out connection, a 421 banner, a
server that stalls or resets is `not_testable` (with the reason), never `no_starttls`.

The MX address comes from DNS data: a non-public one (loopback, private, link-local...) is not
contacted at all unless `allow_private` is set; the probe says `not_public` (address_guard.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
import time
import warnings
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from audit.net import address_guard
from audit.net.dns import is_ip_literal

OK = "ok"
NO_STARTTLS = "no_starttls"
NOT_TESTABLE = "not_testable"
TLS_FAILED = "tls_failed"  # STARTTLS accepted, then the handshake itself failed: a verdict
NOT_PUBLIC = "not_public"  # a non-public address: not contacted (the address guard)

TLS_VERSIONS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
LEGACY_VERSIONS = ("TLSv1", "TLSv1.1")  # deprecated by RFC 8996
_TLS_VERSION_ENUM = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
_LOCAL_SUPPORT = {
    "TLSv1": ssl.HAS_TLSv1,
    "TLSv1.1": ssl.HAS_TLSv1_1,
    "TLSv1.2": ssl.HAS_TLSv1_2,
    "TLSv1.3": ssl.HAS_TLSv1_3,
}
# The main handshake takes whatever the server can do (down to TLS 1.0, any key size): the
# point is to see the server's session and chain, not to enforce a policy. No anonymous suites:
# they present no certificate.
MAIN_CIPHERS = "DEFAULT:!aNULL:!eNULL:@SECLEVEL=0"
# Pinned legacy probes: OpenSSL 3 refuses TLS 1.0/1.1 (SHA-1/MD5 handshake signatures) above
# security level 0, so without this a server that does accept TLS 1.0 would read as refusing it.
VERSION_CIPHERS = "ALL:!aNULL:!eNULL:@SECLEVEL=0"

_DER = 2  # _ssl.ENCODING_DER, what Certificate.public_bytes takes
MAX_REPLY_LINES = 100
LINE_LIMIT = 8192
MAIN_DEADLINE_STEPS = 4  # the whole main session ends within this many timeouts
VERSION_DEADLINE_STEPS = 3  # each pinned-version session likewise

T = TypeVar("T")


class ProbeFailure(Exception):
    """The conversation stopped: at which stage, why, and what that means for the result."""

    def __init__(self, stage: str, reason: str, status: str = NOT_TESTABLE) -> None:
        super().__init__(reason)
        self.stage, self.reason, self.status = stage, reason, status


@dataclass
class SmtpProbe:
    """What one STARTTLS probe of (host, address, port) saw. `chain_der` is leaf first."""

    host: str
    address: str
    port: int
    status: str = NOT_TESTABLE
    reason: str | None = None  # why not ok: "connection refused", "banner 421 ..."
    stage: str | None = None  # where it stopped: connect, banner, ehlo, starttls, tls
    banner: list[str] = field(default_factory=list)
    banner_code: int | None = None
    extensions: list[str] = field(default_factory=list)  # EHLO keywords (with parameters)
    starttls_offered: bool = False
    tls_version: str | None = None
    cipher: str | None = None
    cipher_bits: int | None = None
    chain_der: list[bytes] = field(default_factory=list)
    extensions_after_tls: list[str] = field(default_factory=list)
    accepted_versions: dict[str, bool | None] = field(default_factory=dict)
    version_notes: dict[str, str] = field(default_factory=dict)  # why a version is True/False/None
    ca_file: str | None = None  # the trust store the chain is to be judged against
    elapsed_ms: float = 0.0

    @property
    def ok(self) -> bool:
        """STARTTLS was offered and the TLS handshake completed."""
        return self.status == OK

    @property
    def legacy_versions_accepted(self) -> list[str]:
        return [v for v in LEGACY_VERSIONS if self.accepted_versions.get(v)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "address": self.address,
            "port": self.port,
            "status": self.status,
            "reason": self.reason,
            "stage": self.stage,
            "banner": self.banner,
            "extensions": self.extensions,
            "starttls_offered": self.starttls_offered,
            "tls_version": self.tls_version,
            "cipher": self.cipher,
            "cipher_bits": self.cipher_bits,
            "chain_sha256": [hashlib.sha256(c).hexdigest() for c in self.chain_der],
            "accepted_versions": dict(self.accepted_versions),
            "version_notes": dict(self.version_notes),
            "elapsed_ms": round(self.elapsed_ms, 3),
        }


def _context(version: str | None) -> ssl.SSLContext:
    """A client context that verifies nothing; pinned to one version when `version` is set."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():  # TLSv1/TLSv1_1 are deprecated: we want to detect them
        warnings.simplefilter("ignore", DeprecationWarning)
        if version is None:
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.set_ciphers(MAIN_CIPHERS)
        else:
            ctx.minimum_version = ctx.maximum_version = _TLS_VERSION_ENUM[version]
            ctx.set_ciphers(VERSION_CIPHERS)
    return ctx


def presented_chain(ssl_object: ssl.SSLObject) -> list[bytes]:
    """The chain the server sent, DER, leaf first.

    Python 3.13 has `SSLObject.get_unverified_chain()`; 3.10-3.12 have the same method on the
    underlying `_ssl` object; otherwise only the leaf is available.
    """
    public = getattr(ssl_object, "get_unverified_chain", None)
    inner = getattr(getattr(ssl_object, "_sslobj", None), "get_unverified_chain", None)
    for getter in (public, inner):
        if getter is None:
            continue
        with contextlib.suppress(Exception):
            chain = getter() or []
            return [c if isinstance(c, bytes) else c.public_bytes(_DER) for c in chain]
    leaf = ssl_object.getpeercert(binary_form=True)
    return [leaf] if leaf else []


class _Session:
    """One SMTP connection, each step bounded by `timeout`."""

    def __init__(
        self,
        host: str,
        address: str,
        port: int,
        timeout: float,
        helo: str,
        allow_private: bool = False,
    ) -> None:
        self.host, self.address, self.port = host, address, port
        self.timeout, self.helo = timeout, helo
        self.allow_private = allow_private
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _step(
        self, stage: str, what: str, work: Awaitable[T], timeout: float | None = None
    ) -> T:
        limit = timeout or self.timeout
        try:
            return await asyncio.wait_for(work, limit)
        except TimeoutError:
            raise ProbeFailure(stage, f"timed out after {limit:g}s {what}") from None
        except ConnectionRefusedError:
            raise ProbeFailure(stage, "connection refused") from None
        except (ConnectionResetError, BrokenPipeError):
            raise ProbeFailure(stage, f"connection reset by the server {what}") from None
        except asyncio.IncompleteReadError:
            raise ProbeFailure(stage, f"connection closed by the server {what}") from None
        except (asyncio.LimitOverrunError, ValueError):
            raise ProbeFailure(stage, f"over-long reply line {what}") from None
        except ssl.SSLError:
            raise
        except OSError as exc:
            raise ProbeFailure(stage, f"{exc.strerror or exc} {what}".strip()) from None

    async def connect(self) -> None:
        self.reader, self.writer = await self._step(
            "connect",
            "connecting",
            address_guard.open_connection(
                self.address, self.port, allow_private=self.allow_private, limit=LINE_LIMIT
            ),
        )

    async def _read_reply(self) -> tuple[int, list[str]]:
        assert self.reader is not None
        lines: list[str] = []
        while True:
            raw = await self.reader.readline()
            if not raw:
                raise asyncio.IncompleteReadError(b"", None)
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if len(line) < 3 or not line[:3].isdigit():
                raise ProbeFailure("reply", f"not an SMTP reply: {line[:80]!r}")
            lines.append(line)
            if len(line) == 3 or line[3] != "-":
                return int(line[:3]), [ln[4:] for ln in lines]
            if len(lines) >= MAX_REPLY_LINES:
                raise ProbeFailure("reply", f"reply longer than {MAX_REPLY_LINES} lines")

    async def reply(
        self, stage: str, what: str, timeout: float | None = None
    ) -> tuple[int, list[str]]:
        try:
            return await self._step(stage, what, self._read_reply(), timeout)
        except ProbeFailure as exc:
            if exc.stage == "reply":
                exc.stage = stage
            raise

    async def command(self, line: str, stage: str) -> tuple[int, list[str]]:
        assert self.writer is not None
        self.writer.write(line.encode("ascii") + b"\r\n")
        await self._step(stage, f"sending {line.split()[0]}", self.writer.drain())
        return await self.reply(stage, f"waiting for the {line.split()[0]} reply")

    async def banner(self) -> tuple[int, list[str]]:
        # RFC 5321 4.5.3.2 allows 5 minutes; greylisting front ends (Postfix postscreen's
        # 6 s greet wait) pause mid-banner on purpose, so the banner gets a longer limit
        banner_wait = max(self.timeout, min(30.0, self.timeout * 3))
        code, lines = await self.reply("banner", "waiting for the banner", banner_wait)
        if code != 220:
            text = " ".join(lines)[:200]
            raise ProbeFailure("banner", f"banner {code} {text}".strip())
        return code, lines

    async def ehlo(self, stage: str = "ehlo") -> list[str]:
        code, lines = await self.command(f"EHLO {self.helo}", stage)
        text = f"{code} {' '.join(lines)[:200]}"
        if code in (500, 502):  # EHLO not recognized: no ESMTP, so no STARTTLS either
            raise ProbeFailure(stage, f"EHLO not supported ({text})", status=NO_STARTTLS)
        if code != 250:
            # 421/4xx: try later; other 5xx: this client refused by policy. Either way the
            # server's STARTTLS support is unknown, not absent.
            raise ProbeFailure(stage, f"EHLO answered {text}")
        return lines[1:]

    async def starttls(self) -> None:
        code, lines = await self.command("STARTTLS", "starttls")
        if code == 220:
            return
        text = f"{code} {' '.join(lines)[:200]}"
        if 400 <= code < 500:  # 454: TLS temporarily unavailable (RFC 3207)
            raise ProbeFailure("starttls", f"STARTTLS offered but temporarily refused: {text}")
        raise ProbeFailure("starttls", f"STARTTLS offered but refused: {text}", NO_STARTTLS)

    async def handshake(self, ctx: ssl.SSLContext) -> ssl.SSLObject:
        assert self.writer is not None
        sni = self.host if self.host and not is_ip_literal(self.host) else None
        await self._step(
            "tls",
            "in the TLS handshake",
            self.writer.start_tls(ctx, server_hostname=sni, ssl_handshake_timeout=self.timeout),
        )
        ssl_object = self.writer.get_extra_info("ssl_object")
        if ssl_object is None:  # pragma: no cover - start_tls always sets it
            raise ProbeFailure("tls", "no TLS session after the handshake")
        return ssl_object

    async def quit(self) -> None:
        """QUIT and close; failures here change nothing about what was seen."""
        if self.writer is None:
            return
        with contextlib.suppress(Exception):
            await self.command("QUIT", "quit")
        await self.close()

    async def close(self) -> None:
        if self.writer is None:
            return
        writer, self.writer = self.writer, None
        with contextlib.suppress(Exception):
            writer.close()
            await asyncio.wait_for(writer.wait_closed(), self.timeout)


def _keywords(extensions: list[str]) -> set[str]:
    return {line.split()[0].upper() for line in extensions if line.split()}


async def _main_session(probe: SmtpProbe, session: _Session) -> None:
    try:
        await session.connect()
        code, probe.banner = await session.banner()
        probe.banner_code = code
        probe.extensions = await session.ehlo()
        probe.starttls_offered = "STARTTLS" in _keywords(probe.extensions)
        if not probe.starttls_offered:
            await session.quit()
            raise ProbeFailure("ehlo", "STARTTLS not in the EHLO extensions", NO_STARTTLS)
        await session.starttls()
        try:
            ssl_object = await session.handshake(_context(None))
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError) as exc:
            reason = f"the server closed the connection in the TLS handshake: {exc}"
            raise ProbeFailure("tls", reason) from None
        except ssl.SSLError as exc:
            # our side accepts TLS 1.0-1.3 at security level 0: a failure is the server's
            reason = f"TLS handshake failed after STARTTLS: {_ssl_reason(exc)}"
            raise ProbeFailure("tls", reason, TLS_FAILED) from None
        probe.tls_version = ssl_object.version()
        cipher = ssl_object.cipher()
        if cipher:
            probe.cipher, probe.cipher_bits = cipher[0], cipher[2]
        probe.chain_der = presented_chain(ssl_object)
        probe.status, probe.stage = OK, None
        with contextlib.suppress(ProbeFailure, ssl.SSLError):
            probe.extensions_after_tls = await session.ehlo("ehlo-tls")
        await session.quit()
    finally:
        await session.close()


def _ssl_reason(exc: ssl.SSLError) -> str:
    return exc.reason or exc.strerror or str(exc) or type(exc).__name__


async def _version_session(
    host: str,
    address: str,
    port: int,
    version: str,
    timeout: float,
    helo: str,
    allow_private: bool,
) -> tuple[bool | None, str]:
    """One pinned handshake: True accepted, False refused, None could not tell (and why)."""
    if not _LOCAL_SUPPORT[version]:
        return None, f"the local TLS library cannot offer {version}"
    session = _Session(host, address, port, timeout, helo, allow_private)
    try:
        async with asyncio.timeout(timeout * VERSION_DEADLINE_STEPS):
            await session.connect()
            await session.banner()
            if "STARTTLS" not in _keywords(await session.ehlo()):
                return None, "STARTTLS not offered on this connection"
            await session.starttls()
            try:
                ssl_object = await session.handshake(_context(version))
            except ssl.SSLError as exc:
                reason = _ssl_reason(exc)
                if reason == "NO_PROTOCOLS_AVAILABLE":  # ours, before any ClientHello
                    return None, f"the local TLS library refused {version}: {reason}"
                return False, f"handshake refused: {reason}"
            except ProbeFailure as exc:
                if exc.stage == "tls" and "timed out" not in exc.reason:
                    return False, exc.reason  # the server hung up on the offered version
                raise
            negotiated = ssl_object.version()
            await session.quit()
            return negotiated == version, f"negotiated {negotiated}"
    except ProbeFailure as exc:
        return None, exc.reason
    except TimeoutError:
        return None, f"no answer within {timeout * VERSION_DEADLINE_STEPS:g}s"
    finally:
        await session.close()


async def probe_starttls(
    host: str,
    address: str,
    port: int,
    *,
    timeout: float,
    ca_file: str | None,
    helo: str = "audit.invalid",
    allow_private: bool = False,
) -> SmtpProbe:
    """Probe one MX address. Never raises for network outcomes: they are the probe's status.

    `host` is the MX name (the SNI and the name the certificate is judged against); `address`
    is the address our resolver gave for it, and the one connected to: a non-public address is
    `not_public` and never contacted, unless `allow_private`. `ca_file` is recorded on the
    result: the trust store its chain is to be judged against (None: the system store).
    """
    start = time.perf_counter()
    probe = SmtpProbe(host, address, port, ca_file=ca_file)
    try:
        address_guard.check_address(address, allow_private)
    except address_guard.AddressNotPublic as refused:
        probe.status, probe.stage, probe.reason = NOT_PUBLIC, "connect", str(refused)
        return probe
    session = _Session(host, address, port, timeout, helo, allow_private)
    try:
        async with asyncio.timeout(timeout * MAIN_DEADLINE_STEPS):
            await _main_session(probe, session)
    except ProbeFailure as exc:
        probe.status, probe.reason, probe.stage = exc.status, exc.reason, exc.stage
    except TimeoutError:
        if not probe.ok:  # a slow goodbye after the handshake changes nothing that was seen
            probe.status, probe.stage = NOT_TESTABLE, probe.stage or "session"
            probe.reason = f"the session did not finish within {timeout * MAIN_DEADLINE_STEPS:g}s"
    if probe.ok:
        probe.accepted_versions = {v: None for v in TLS_VERSIONS}
        if probe.tls_version in probe.accepted_versions:
            probe.accepted_versions[probe.tls_version] = True
            probe.version_notes[probe.tls_version] = "negotiated by the main handshake"
        others = [v for v in TLS_VERSIONS if v != probe.tls_version]
        results = await asyncio.gather(
            *(
                _version_session(host, address, port, v, timeout, helo, allow_private)
                for v in others
            )
        )
        for version, (accepted, note) in zip(others, results, strict=True):
            probe.accepted_versions[version] = accepted
            probe.version_notes[version] = note
    probe.elapsed_ms = (time.perf_counter() - start) * 1000
    return probe
