"""SPF record syntax (RFC 7208 sections 4.5, 4.6, 5, 6, 7.1): text in, typed terms out.

Pure: no I/O. A record with any syntax error anywhere is a permerror before evaluation starts
(4.6), so the parser reads the whole record and raises `SpfSyntaxError` naming the bad term.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from audit.spf.macro import MacroSyntaxError, validate_macro_string

MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
LOOKUP_MECHANISMS = ("include", "a", "mx", "ptr", "exists")
QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}

_VERSION = re.compile(r"^v=spf1(?: |$)", re.IGNORECASE)
_MODIFIER = re.compile(r"^([A-Za-z][A-Za-z0-9\-_.]*)=(.*)$", re.DOTALL)
_MECH_NAME = re.compile(r"^([A-Za-z][A-Za-z0-9]*)(.*)$", re.DOTALL)
_DUAL_CIDR_SUFFIX = re.compile(r"(?:/[0-9]+)?(?://[0-9]+)?$")
_IP4_CIDR = re.compile(r"^/(0|[1-9][0-9]?)")
_IP6_CIDR = re.compile(r"^//(0|[1-9][0-9]{0,2})$")
_TOPLABEL = re.compile(
    r"^(?:[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9-]*[A-Za-z0-9])$"
)


class SpfSyntaxError(ValueError):
    """The record does not parse: a permerror. `term` is the offending term, if any."""

    def __init__(self, message: str, term: str | None = None):
        super().__init__(message)
        self.term = term


@dataclass(frozen=True)
class Mechanism:
    qualifier: str  # "+", "-", "~", "?"
    name: str  # lower case: all, include, a, mx, ptr, ip4, ip6, exists
    domain_spec: str | None = None  # include/a/mx/ptr/exists target, unexpanded
    network: str | None = None  # ip4/ip6 address text
    cidr4: int | None = None
    cidr6: int | None = None
    text: str = ""  # the term as written

    @property
    def result(self) -> str:
        return QUALIFIERS[self.qualifier]

    @property
    def costs_lookup(self) -> bool:
        return self.name in LOOKUP_MECHANISMS

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Modifier:
    name: str  # lower case
    value: str
    text: str = ""

    def __str__(self) -> str:
        return self.text


Term = Mechanism | Modifier


@dataclass
class SpfRecord:
    """A parsed `v=spf1` record: terms in order, plus the redirect/exp modifiers."""

    text: str
    terms: list[Term] = field(default_factory=list)

    @property
    def mechanisms(self) -> list[Mechanism]:
        return [t for t in self.terms if isinstance(t, Mechanism)]

    def modifier(self, name: str) -> Modifier | None:
        return next((t for t in self.terms if isinstance(t, Modifier) and t.name == name), None)

    @property
    def redirect(self) -> str | None:
        mod = self.modifier("redirect")
        return mod.value if mod else None

    @property
    def exp(self) -> str | None:
        mod = self.modifier("exp")
        return mod.value if mod else None

    @property
    def all(self) -> Mechanism | None:
        return next((m for m in self.mechanisms if m.name == "all"), None)


def is_spf_record(text: str) -> bool:
    """A TXT string is an SPF record iff it is `v=spf1` alone or followed by a space (4.5)."""
    return bool(_VERSION.match(text))


def parse_record(text: str) -> SpfRecord:
    """Parse a whole `v=spf1 ...` record; raises SpfSyntaxError on the first bad term."""
    if not is_spf_record(text):
        raise SpfSyntaxError(f"not an SPF record (must start with 'v=spf1'): {text!r}")
    if not text.isascii():
        bad = next(c for c in text if not c.isascii())
        raise SpfSyntaxError(f"SPF records are 7-bit ASCII; found {bad!r} (U+{ord(bad):04X})")
    record = SpfRecord(text)
    seen: set[str] = set()
    for raw in text.split(" ")[1:]:
        if not raw:
            continue  # 1*SP between terms; trailing spaces are allowed
        term = parse_term(raw)
        if isinstance(term, Modifier) and term.name in ("redirect", "exp"):
            if term.name in seen:
                raise SpfSyntaxError(f"the {term.name}= modifier appears more than once", raw)
            seen.add(term.name)
        record.terms.append(term)
    return record


def parse_term(raw: str) -> Term:
    """One term: a modifier (`name=value`) or a mechanism (`[qualifier]name[:arg][/cidr]`)."""
    bad = next((c for c in raw if not 0x21 <= ord(c) <= 0x7E), None)
    if bad is not None:
        raise SpfSyntaxError(f"invalid character {bad!r} in term {raw!r}", raw)
    mod = _MODIFIER.match(raw)
    if mod:
        return _parse_modifier(mod.group(1).lower(), mod.group(2), raw)
    return _parse_mechanism(raw)


def _parse_modifier(name: str, value: str, raw: str) -> Modifier:
    try:
        if name in ("redirect", "exp"):
            if not value:
                raise SpfSyntaxError(f"{name}= needs a domain", raw)
            validate_domain_spec(value)
        else:
            validate_macro_string(value)
    except MacroSyntaxError as exc:
        raise SpfSyntaxError(f"bad macro in {raw!r}: {exc}", raw) from None
    return Modifier(name, value, raw)


def _parse_mechanism(raw: str) -> Mechanism:
    qualifier = "+"
    body = raw
    if body[0] in QUALIFIERS:
        qualifier, body = body[0], body[1:]
    match = _MECH_NAME.match(body)
    if not match:
        raise SpfSyntaxError(f"unknown term {raw!r}", raw)
    name, rest = match.group(1).lower(), match.group(2)
    if name not in MECHANISMS:
        raise SpfSyntaxError(f"unknown mechanism {match.group(1)!r} in {raw!r}", raw)
    try:
        return _mechanism_args(qualifier, name, rest, raw)
    except MacroSyntaxError as exc:
        raise SpfSyntaxError(f"bad macro in {raw!r}: {exc}", raw) from None


def _mechanism_args(qualifier: str, name: str, rest: str, raw: str) -> Mechanism:
    if name == "all":
        if rest:
            raise SpfSyntaxError(f"'all' takes no argument: {raw!r}", raw)
        return Mechanism(qualifier, name, text=raw)
    if name in ("include", "exists"):
        if not rest.startswith(":") or len(rest) == 1:
            raise SpfSyntaxError(f"{name} needs ':domain': {raw!r}", raw)
        validate_domain_spec(rest[1:])
        return Mechanism(qualifier, name, domain_spec=rest[1:], text=raw)
    if name == "ptr":
        domain = None
        if rest:
            if not rest.startswith(":") or len(rest) == 1:
                raise SpfSyntaxError(f"ptr takes only ':domain': {raw!r}", raw)
            domain = rest[1:]
            validate_domain_spec(domain)
        return Mechanism(qualifier, name, domain_spec=domain, text=raw)
    if name in ("a", "mx"):
        # A domain-spec may itself hold '/' (any visible character but '%'), so the dual-cidr
        # suffix is whatever `/n`, `//m` or `/n//m` ends the term.
        cidr_match = _DUAL_CIDR_SUFFIX.search(rest)
        assert cidr_match is not None  # every part is optional: it matches at least at the end
        spec, cidr = rest[: cidr_match.start()], rest[cidr_match.start() :]
        domain = None
        if spec:
            if not spec.startswith(":") or len(spec) == 1:
                raise SpfSyntaxError(f"{name} takes ':domain' then '/cidr': {raw!r}", raw)
            domain = spec[1:]
            validate_domain_spec(domain)
        cidr4, cidr6 = _dual_cidr(cidr, raw)
        return Mechanism(qualifier, name, domain, cidr4=cidr4, cidr6=cidr6, text=raw)
    # ip4 / ip6
    if not rest.startswith(":") or len(rest) == 1:
        raise SpfSyntaxError(f"{name} needs ':address': {raw!r}", raw)
    address, _, length = rest[1:].partition("/")
    if name == "ip4":
        try:
            ipaddress.IPv4Address(address)
        except ValueError:
            raise SpfSyntaxError(f"invalid IPv4 address {address!r} in {raw!r}", raw) from None
        prefix = _cidr_value("/" + length, 32, raw) if length or "/" in rest else None
        return Mechanism(qualifier, name, network=address, cidr4=prefix, text=raw)
    if "%" in address:
        raise SpfSyntaxError(f"invalid IPv6 address {address!r} in {raw!r}", raw)
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        raise SpfSyntaxError(f"invalid IPv6 address {address!r} in {raw!r}", raw) from None
    prefix = _cidr_value("/" + length, 128, raw) if length or "/" in rest else None
    return Mechanism(qualifier, name, network=address, cidr6=prefix, text=raw)


def _dual_cidr(text: str, raw: str) -> tuple[int | None, int | None]:
    """`[/n][//m]` as in `a:host/24//64`."""
    if not text:
        return None, None
    cidr4 = cidr6 = None
    if not text.startswith("//"):
        match = _IP4_CIDR.match(text)
        if not match:
            raise SpfSyntaxError(f"invalid CIDR length in {raw!r}", raw)
        cidr4 = _cidr_value(match.group(0), 32, raw)
        text = text[match.end() :]
    if text:
        match = _IP6_CIDR.match(text)
        if not match:
            raise SpfSyntaxError(f"invalid CIDR length in {raw!r}", raw)
        cidr6 = _cidr_value(text[1:], 128, raw)
    return cidr4, cidr6


def _cidr_value(text: str, maximum: int, raw: str) -> int:
    if not re.fullmatch(r"/(0|[1-9][0-9]*)", text):
        raise SpfSyntaxError(f"invalid CIDR length {text!r} in {raw!r}", raw)
    value = int(text[1:])
    if value > maximum:
        raise SpfSyntaxError(f"CIDR length {value} exceeds /{maximum} in {raw!r}", raw)
    return value


def validate_domain_spec(spec: str) -> None:
    """domain-spec = macro-string domain-end; domain-end = "." toplabel ["."] / macro-expand."""
    validate_macro_string(spec)
    if re.search(r"(%\{[^}]*\}|%[%_-])$", spec):
        return
    body = spec[:-1] if spec.endswith(".") else spec
    # The last label must follow a dot and be a toplabel (not all digits, no leading dash).
    _, dot, last = body.rpartition(".")
    if not dot or not _TOPLABEL.match(last):
        raise MacroSyntaxError(f"domain {spec!r} must end in a valid top-level label")
