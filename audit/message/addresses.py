"""The identities in a message's headers that authentication is judged against."""

from __future__ import annotations

import functools
from email.message import Message
from email.utils import getaddresses


def header_values(message: Message, name: str) -> list[str]:
    """Every instance of a header as text, decoded leniently (garbage never raises)."""
    out = []
    for value in message.get_all(name) or []:
        out.append(value if isinstance(value, str) else str(value))
    return out


def domain_of(address: str | None) -> str | None:
    if not address or "@" not in address:
        return None
    domain = address.rsplit("@", 1)[1].strip().strip(">").rstrip(".").lower()
    return domain or None


def from_addresses(message: Message) -> list[str]:
    """Every mailbox in every From header (RFC 5322 3.6.2 allows a list)."""
    try:
        return list(_addresses(tuple(header_values(message, "From"))))
    except Exception:  # noqa: BLE001 - malformed headers are judged elsewhere, not raised
        return []


@functools.lru_cache(maxsize=1024)  # several checks ask, and a run sees the same From often
def _addresses(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(addr for _, addr in getaddresses(values) if addr)


def from_domains(message: Message) -> list[str]:
    """The distinct RFC5322.From domains: DMARC needs exactly one."""
    domains = [domain_of(a) for a in from_addresses(message)]
    return list(dict.fromkeys(d for d in domains if d))
