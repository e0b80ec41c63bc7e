"""Validation of the domain names users type: one clear error instead of a confused audit."""

from __future__ import annotations

import re

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_domain(text: str) -> str:
    """`Example.COM.` -> `example.com`; internationalized names become A-labels.

    Raises ValueError with a one-line reason for anything that cannot be a mail domain.
    """
    raw = text.strip()
    name = raw.rstrip(".").lower()
    if not name:
        raise ValueError("empty domain name")
    if "@" in name:
        raise ValueError(f"{raw!r} looks like an email address; give the domain after the @")
    if "/" in name or ":" in name:
        raise ValueError(f"{raw!r} looks like a URL; give only the domain name")
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{raw!r} is not a valid domain name") from None
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
    """A DKIM selector as typed (`S1.`) -> `s1`; ValueError for what cannot be one (RFC 6376 3.1:
    dot-separated labels of letters, digits, '-' and '_')."""
    selector = text.strip().lower().rstrip(".")
    if not selector or any(not part or len(part) > 63 for part in selector.split(".")):
        raise ValueError(f"{text!r} is not a valid DKIM selector")
    if not all(c.isalnum() or c in "-_." for c in selector):
        raise ValueError(f"{text!r} is not a valid DKIM selector")
    return selector
