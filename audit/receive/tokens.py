"""Test addresses: `t-<token>@DOMAIN`, where the local part is the secret.

128 random bits in lower-case base32: unguessable, and safe as a local part everywhere
(receivers and MTAs may lower-case local parts; RFC 5321 4.1.2 lets them).
"""

from __future__ import annotations

import base64
import re
import secrets

PREFIX = "t-"
_TOKEN = re.compile(r"[a-z0-9][a-z0-9._+-]{0,63}\Z")


def new_token() -> str:
    """A fresh token such as `t-7f3k2qmd4x...` (26 base32 characters after the prefix)."""
    raw = base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=").lower()
    return PREFIX + raw


def address_for(token: str, domain: str) -> str:
    return f"{token}@{domain}"


def token_of(text: str) -> str:
    """The token in `t-abc`, `t-abc@inbox.example` or `<t-abc@inbox.example>`, lower-cased.

    Raises ValueError for text that cannot be a token (so a typo is bad input, not "unknown").
    """
    value = text.strip().strip("<>").rpartition("@")[0] or text.strip().strip("<>")
    value = value.lower()
    if not _TOKEN.match(value):
        raise ValueError(f"{text!r} is not a test token or address")
    return value


def split_recipient(address: str) -> tuple[str, str]:
    """(local part lower-cased, domain lower-cased without a trailing dot) of an RCPT address."""
    local, at, domain = address.strip().strip("<>").rpartition("@")
    if not at or not local:
        raise ValueError(f"{address!r} is not local-part@domain")
    return local.lower(), domain.lower().rstrip(".")
