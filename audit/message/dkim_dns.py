"""dkimpy through our resolver layer, and on our clock.

dkimpy asks for keys synchronously (`dnsfunc(name)`) and reads the time with `time.time()`.
Neither may escape the run: every key a message's DKIM-Signature, ARC-Message-Signature and
ARC-Seal headers name is fetched first, concurrently, through the run's `Resolver` (so each
query is cached, logged and can report TIMEOUT/SERVFAIL apart from NXDOMAIN), and dkimpy then
gets a `dnsfunc` that answers from those answers only. `dkim_clock(now)` makes dkimpy's
`time.time()` return the audit's clock (`--now`) in the calling thread.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time as _real_time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import dkim
from dkim.canonicalization import Relaxed
from dkim.util import InvalidTagValueList, parse_tag_value

from audit.net.dns import DnsAnswer, DnsStatus, Resolver, normalize_name

SIGNATURE_HEADERS = (b"dkim-signature", b"arc-message-signature", b"arc-seal")
MAX_KEY_LOOKUPS = 128  # a hostile message cannot make us ask more than this many questions
_HEADER_LINE = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:(.*)", re.DOTALL)


def key_name(selector: str, domain: str) -> str:
    """`<s>._domainkey.<d>` as the resolver layer spells names (lower-case, no final dot)."""
    return normalize_name(f"{selector}._domainkey.{domain}")


def header_fields(raw: bytes) -> list[tuple[bytes, bytes]]:
    """The header section as (name, unfolded value) pairs; lenient, never raises."""
    head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]
    fields: list[list[bytes]] = []
    for line in re.split(rb"\r?\n", head):
        if line[:1] in (b" ", b"\t"):
            if fields:
                fields[-1][1] += b" " + line.strip()
            continue
        match = _HEADER_LINE.match(line)
        if match:
            fields.append([match.group(1), match.group(2)])
    return [(name, value) for name, value in fields]


def signature_keys(raw: bytes) -> list[str]:
    """Every key name the message's signatures point at, in header order, without repeats.

    A header's value is read as written (dkimpy's DKIM verification) and relaxed-canonicalised
    (its ARC validation). Relaxed canonicalisation only removes line breaks and shortens runs
    of spaces and tabs, so where s= and d= as written hold none, it names the same key or none
    and is skipped."""
    names: dict[str, None] = {}
    for name, value in header_fields(raw):
        if name.lower() not in SIGNATURE_HEADERS:
            continue
        written = _selector_domain(value)
        candidates = [written]
        if written is None or _FOLDING.search(written[0]) or _FOLDING.search(written[1]):
            relaxed = Relaxed.canonicalize_headers([(name, value)])[0][1]
            candidates.append(_selector_domain(relaxed))
        for candidate in candidates:
            if candidate is None:
                continue
            try:
                selector, domain = candidate[0].decode("ascii"), candidate[1].decode("ascii")
            except UnicodeDecodeError:
                continue
            names[key_name(selector, domain)] = None  # an impossible name answers NXDOMAIN
        if len(names) >= MAX_KEY_LOOKUPS:
            break
    return list(names)[:MAX_KEY_LOOKUPS]


_FOLDING = re.compile(rb"[ \t\r\n]")  # what relaxed canonicalisation changes


def _selector_domain(value: bytes) -> tuple[bytes, bytes] | None:
    """(s=, d=) of a signature header's tag list, or None when it does not parse."""
    try:
        tags = parse_tag_value(value)
        return tags[b"s"], tags[b"d"]
    except (InvalidTagValueList, KeyError):
        return None


def _txt_bytes(answer: DnsAnswer) -> list[bytes]:
    """Each TXT record's character-strings joined (RFC 6376 3.6.2.2), as raw bytes."""
    return [b"".join(getattr(r, "strings", ())) for r in answer.rdata]


def key_record(answer: DnsAnswer) -> bytes | None:
    """The key record dkimpy should see: the first TXT that says v=DKIM1, else the first TXT."""
    records = _txt_bytes(answer)
    if not records:
        return None
    for record in records:
        if record.lstrip().startswith(b"v=DKIM1"):
            return record
    return records[0]


@dataclass
class KeyLookups:
    """The prefetched key answers for one message, by key name."""

    answers: dict[str, DnsAnswer] = field(default_factory=dict)

    def answer(self, name: str) -> DnsAnswer | None:
        return self.answers.get(normalize_name(name))

    def temperrors(self) -> list[DnsAnswer]:
        return [a for a in self.answers.values() if a.temperror]

    def dnsfunc(self) -> PrefetchedDns:
        return PrefetchedDns(self)


class PrefetchedDns:
    """A dkimpy `dnsfunc` that answers only from prefetched answers and remembers what it was
    asked: a TIMEOUT/SERVFAIL raises `dkim.DnsTimeoutError` (temperror), NXDOMAIN/NODATA is
    None (no key), and a name nobody prefetched is a temperror too, never a network query."""

    def __init__(self, lookups: KeyLookups):
        self.lookups = lookups
        self.asked: list[str] = []
        self.temperrors: list[DnsAnswer] = []
        self.unknown: list[str] = []

    def __call__(self, name: bytes | str, timeout: float = 5) -> bytes | None:
        text = name.decode("utf-8", errors="replace") if isinstance(name, bytes) else name
        key = normalize_name(text)
        self.asked.append(key)
        answer = self.lookups.answer(key)
        if answer is None and not _possible_name(key):
            return None  # empty or oversized label: no such name can exist
        if answer is None:
            self.unknown.append(key)
            raise dkim.DnsTimeoutError(f"{key} was not prefetched")
        if answer.temperror:
            self.temperrors.append(answer)
            raise dkim.DnsTimeoutError(answer.describe())
        if answer.status is not DnsStatus.NOERROR:
            return None
        return key_record(answer)


def _possible_name(name: str) -> bool:
    return 0 < len(name) <= 253 and all(0 < len(label) <= 63 for label in name.split("."))


async def prefetch_keys(resolver: Resolver, raw: bytes) -> KeyLookups:
    """Ask for every signature's key at once through the run's resolver."""
    names = signature_keys(raw)
    answers = await asyncio.gather(*(resolver.query(name, "TXT") for name in names))
    return KeyLookups(dict(zip(names, answers, strict=True)))


# --------------------------------------------------------------------------- the clock


class _Clock:
    """Stands in for the `time` module inside dkimpy: `time()` is the audit's clock where a
    thread set one (`dkim_clock`), the real clock everywhere else."""

    def __init__(self) -> None:
        self._local = threading.local()

    def time(self) -> float:
        now = getattr(self._local, "now", None)
        return _real_time.time() if now is None else now

    def __getattr__(self, name: str):
        return getattr(_real_time, name)


_CLOCK = _Clock()
_INSTALL_LOCK = threading.Lock()


@contextmanager
def dkim_clock(now: datetime) -> Iterator[None]:
    """Within this block (in this thread) dkimpy's `time.time()` returns `now`: t=/x= checks
    and signing timestamps follow `--now`. Other threads keep the real clock."""
    with _INSTALL_LOCK:
        if dkim.time is not _CLOCK:
            dkim.time = _CLOCK
    previous = getattr(_CLOCK._local, "now", None)
    _CLOCK._local.now = now.timestamp()
    try:
        yield
    finally:
        _CLOCK._local.now = previous
