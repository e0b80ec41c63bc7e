"""SPF macros (RFC 7208 section 7): syntax check at parse time, expansion at evaluation time."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from urllib.parse import quote

DOMAIN_LETTERS = frozenset("slodiphv")
EXP_ONLY_LETTERS = frozenset("crt")
DELIMITERS = ".-+,/_="
_MACRO = re.compile(r"%\{([A-Za-z])([0-9]*)([rR]?)([.\-+,/_=]*)\}")


class MacroSyntaxError(ValueError):
    """A malformed macro-string: a permerror where the string is part of a record."""


def validate_macro_string(text: str, exp: bool = False) -> None:
    """Raise MacroSyntaxError unless `text` is a macro-string (explain-string when `exp`)."""
    for _ in _tokens(text, exp):
        pass


def _tokens(text: str, exp: bool):
    """Yield literal strings and (letter, digits, reverse, delimiters) macro tuples."""
    letters = DOMAIN_LETTERS | EXP_ONLY_LETTERS if exp else DOMAIN_LETTERS
    i = 0
    while i < len(text):
        char = text[i]
        if char != "%":
            if not (0x21 <= ord(char) <= 0x7E or (exp and char == " ")):
                raise MacroSyntaxError(f"invalid character {char!r}")
            yield char
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt in ("%", "_", "-"):
            yield {"%": "%", "_": " ", "-": "%20"}[nxt]
            i += 2
            continue
        match = _MACRO.match(text, i)
        if not match:
            raise MacroSyntaxError(f"invalid macro at {text[i : i + 12]!r}")
        letter, digits, reverse, delims = match.groups()
        if letter.lower() not in letters:
            where = "" if exp else " (c, r and t are only allowed in exp= text)"
            raise MacroSyntaxError(f"unknown macro letter {letter!r}{where}")
        if digits and int(digits) == 0:
            raise MacroSyntaxError(f"macro {match.group(0)!r} keeps zero labels")
        yield (letter, int(digits) if digits else None, bool(reverse), delims or ".")
        i = match.end()


def transform(value: str, keep: int | None, reverse: bool, delimiters: str) -> str:
    """Split on the delimiters, optionally reverse, keep the right-most `keep` parts, join '.'."""
    if keep is None and not reverse and delimiters == ".":
        return value
    parts = re.split("[" + re.escape(delimiters) + "]", value)
    if reverse:
        parts.reverse()
    if keep is not None:
        parts = parts[-keep:]
    return ".".join(parts)


Lookup = Callable[[str], Awaitable[str]]


async def expand(text: str, value_of: Lookup, exp: bool = False) -> str:
    """Expand every macro in `text`; `value_of(letter)` gives the value of a lower-case letter."""
    out: list[str] = []
    for token in _tokens(text, exp):
        if isinstance(token, str):
            out.append(token)
            continue
        letter, keep, reverse, delims = token
        value = transform(await value_of(letter.lower()), keep, reverse, delims)
        out.append(quote(value, safe="") if letter.isupper() else value)
    return "".join(out)


def truncate_domain(name: str) -> str:
    """Drop left-most labels until the name fits in 253 characters (7.3)."""
    while len(name.rstrip(".")) > 253 and "." in name:
        name = name.split(".", 1)[1]
    return name
