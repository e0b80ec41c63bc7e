"""Make attacker-controlled text visible as text: DNS records and message headers can carry
control characters (terminal escape sequences, carriage returns) and bidirectional overrides
that would rewrite what the reader sees. Renderers show them as `\\xNN` / `\\uNNNN` instead."""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL and C1, zero-width space/marks, line/paragraph
# separators, bidi embeddings/overrides/isolates and the BOM. ZWJ/ZWNJ stay: scripts need them.
_HIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: str) -> str:
    """`text` with every hidden or display-altering character spelled out."""
    return _HIDDEN.sub(_escape, text)
