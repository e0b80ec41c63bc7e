"""Validation of the domain names users type: one clear error instead of a confused audit."""

from __future__ import annotations

import re
import unicodedata

import idna

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_domain(text: str) -> str:
    """`Example.COM.` -> `example.com`; internationalized names become A-labels.

    IDNA 2008 (the `idna` package) decides what a valid internationalized name is. A name that
    UTS 46 maps to another name than the one typed (a zero-width space dropped, a full-width
    letter or dot folded, a compatibility character replaced) is refused naming both forms:
    auditing a different domain than the one typed would be a silent lie. Case folding is not
    such a change. Raises ValueError with a one-line reason for anything that cannot be a mail
    domain.
    """
    raw = text.strip()
    name = raw.rstrip(".").lower()
    if not name:
        raise ValueError("empty domain name")
    if "@" in name:
        raise ValueError(f"{raw!r} looks like an email address; give the domain after the @")
    if "/" in name or ":" in name:
        raise ValueError(f"{raw!r} looks like a URL; give only the domain name")
    name = to_a_labels(raw, name)
    labels = name.split(".")
    for label in labels:
        if not _LABEL.match(label):
            raise ValueError(f"{raw!r} is not a valid domain name (bad label {label!r})")
    if len(labels) < 2:
        raise ValueError(f"{raw!r} is not a fully qualified domain name (no dot)")
    if len(name) > 253:
        raise ValueError(f"{raw!r} is longer than 253 characters")
    if labels[-1].isdigit():
        raise ValueError(f"{raw!r} is an IP address or numeric name, not a domain")
    return name


def normalize_selector(text: str) -> str:
    """A DKIM selector as typed (`S1.`) -> `s1`; an internationalized one as A-labels, refused
    when IDNA would change it into another name (as domains are); ValueError for what cannot be
    one (RFC 6376 3.1: dot-separated labels of letters, digits, '-' and '_')."""
    selector = text.strip().lower().rstrip(".")
    try:
        selector = to_a_labels(text.strip(), selector) if selector else selector
    except ValueError as exc:
        raise ValueError(f"--dkim-selector: {exc}") from None
    if not selector or any(not part or len(part) > 63 for part in selector.split(".")):
        raise ValueError(f"{text!r} is not a valid DKIM selector")
    if not all(c.isalnum() or c in "-_." for c in selector):
        raise ValueError(f"{text!r} is not a valid DKIM selector")
    return selector


def to_a_labels(raw: str, name: str) -> str:
    """The A-label form of `name` (already lower-cased; `raw` as typed, for the message), or
    ValueError saying why not: IDNA 2008 validity, and no UTS 46 mapping to another name."""
    if name.isascii():
        for label in name.split("."):
            if label.startswith("xn--"):
                try:
                    idna.decode(label)
                except (idna.IDNAError, UnicodeError) as exc:
                    raise ValueError(f"{raw!r}: {label!r} is not a valid A-label ({exc})") from None
        return name
    try:
        mapped = idna.uts46_remap(name, std3_rules=True, transitional=False)
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValueError(f"{raw!r} is not a valid internationalized domain name: {exc}") from None
    if mapped != unicodedata.normalize("NFC", name):
        raise ValueError(
            f"{raw!r} maps to {mapped!r} under IDNA (UTS 46), not the name typed; "
            f"give {mapped!r} if that is the name you mean"
        )
    try:
        return idna.encode(mapped).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValueError(
            f"{raw!r} is not a valid internationalized domain name (IDNA 2008: {exc})"
        ) from None


def parse_host_port(text: str, *, lowest_port: int = 1) -> tuple[str, int]:
    """`smtp.example.com:587`, `192.0.2.1:587` or `[2001:db8::1]:587` -> (host, port): the host
    an IP address in its compressed form or a normalized domain name, the port 1 to 65535
    (required; `lowest_port=0` for an address to listen on, 0 = any free port). An IPv6
    address needs its brackets: without them the port cannot be told from the address.
    ValueError in words otherwise."""
    import ipaddress

    value = text.strip()
    usage = f"give HOST:PORT with a port from {lowest_port} to 65535, e.g. smtp.example.com:587"
    if value.startswith("["):
        inside, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        try:
            host = str(ipaddress.IPv6Address(inside))
        except ValueError:
            raise ValueError(f"[{inside}] is not an IPv6 address; {usage}") from None
    else:
        host, _, port = value.rpartition(":")
        if ":" in host:
            raise ValueError(f"an IPv6 address needs brackets: [ADDRESS]:PORT; {usage}")
        try:
            host = str(ipaddress.IPv4Address(host))
        except ValueError:
            host = normalize_domain(host) if host else ""
    if not host or not port.isdigit() or not lowest_port <= int(port) < 65536:
        raise ValueError(usage)
    return host, int(port)


def format_host_port(host: str, port: int) -> str:
    """The one written form: `[2001:db8::1]:587` for IPv6, else `host:587`."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def normalize_host_port(text: str) -> str:
    """HOST:PORT in its one written form (parse_host_port, then format_host_port)."""
    return format_host_port(*parse_host_port(text))
