"""TOML files a user writes (audit.toml, seed lists): errors that point at a line.

tomllib parses but forgets where things were; a message like "timeout must be a number" is only
useful with the line it is about. `KeyLines` scans the text once and maps every key path
(`("path", 1, "ips")`, `("domain", "example.com", "dkim_selectors")`) to the line it is on.
"""

from __future__ import annotations

import re
import tomllib

_BARE = r"[A-Za-z0-9_-]+"
_BASIC = r'"(?:[^"\\]|\\.)*"'
_LITERAL = r"'[^']*'"
_PART = rf"(?:{_BARE}|{_BASIC}|{_LITERAL})"
_DOTTED = rf"{_PART}(?:\s*\.\s*{_PART})*"
_ARRAY_HEADER = re.compile(rf"\s*\[\[\s*({_DOTTED})\s*\]\]")
_TABLE_HEADER = re.compile(rf"\s*\[\s*({_DOTTED})\s*\]")
_KEY = re.compile(rf"\s*({_DOTTED})\s*=")
_PARTS = re.compile(_PART)

KeyPath = tuple[str | int, ...]


def _split(dotted: str) -> tuple[str, ...]:
    parts = []
    for raw in _PARTS.findall(dotted):
        if raw.startswith('"'):
            try:
                parts.append(tomllib.loads(f"k = {raw}")["k"])
            except tomllib.TOMLDecodeError:
                parts.append(raw[1:-1])
        elif raw.startswith("'"):
            parts.append(raw[1:-1])
        else:
            parts.append(raw)
    return tuple(parts)


class KeyLines:
    """Line numbers (1-based) of tables and keys; an array-of-tables element is its index.

    Lines inside multi-line strings or arrays are skipped well enough for error messages: a
    key is only recognised at the start of a line, outside a pending open bracket.
    """

    def __init__(self, text: str) -> None:
        self.lines: dict[KeyPath, int] = {}
        counts: dict[tuple[str, ...], int] = {}
        context: KeyPath = ()
        depth = 0  # open [ / { of a multi-line value
        in_string: str | None = None
        for number, line in enumerate(text.splitlines(), 1):
            if in_string:
                if in_string in line:
                    in_string = None
                continue
            if depth == 0:
                array = _ARRAY_HEADER.match(line)
                table = None if array else _TABLE_HEADER.match(line)
                key = None if array or table else _KEY.match(line)
                if array:
                    path = _split(array.group(1))
                    index = counts.get(path, 0)
                    counts[path] = index + 1
                    context = (*path, index)
                    self.lines.setdefault(context, number)
                    self.lines.setdefault(path, number)
                    continue
                if table:
                    context = _split(table.group(1))
                    self.lines.setdefault(context, number)
                    continue
                if key:
                    self.lines.setdefault((*context, *_split(key.group(1))), number)
                    line = line[key.end() :]
            depth, in_string = _scan_value(line, depth)

    def line(self, path: KeyPath) -> int:
        """The line of `path`, else of its nearest enclosing table, else 1."""
        for end in range(len(path), 0, -1):
            found = self.lines.get(tuple(path[:end]))
            if found:
                return found
        return 1


def _scan_value(text: str, depth: int) -> tuple[int, str | None]:
    """Bracket depth after `text` (strings and comments skipped), and an unclosed ''' or \"\"\"."""
    i = 0
    while i < len(text):
        c = text[i]
        if c == "#":
            break
        if text.startswith(('"""', "'''"), i):
            quote = text[i : i + 3]
            end = text.find(quote, i + 3)
            if end < 0:
                return depth, quote
            i = end + 3
            continue
        if c in "\"'":
            end = i + 1
            while end < len(text) and text[end] != c:
                end += 2 if c == '"' and text[end] == "\\" else 1
            i = end + 1
            continue
        if c in "[{":
            depth += 1
        elif c in "]}":
            depth = max(0, depth - 1)
        i += 1
    return depth, None


def decode_error(exc: tomllib.TOMLDecodeError, source: str) -> tuple[int | None, str]:
    """tomllib (3.11) puts the position in the message: "... (at line 3, column 7)"."""
    text = str(exc)
    line = getattr(exc, "lineno", None)  # Python 3.14+
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", text)
    if match:
        line = line or int(match.group(1))
        text = f"{text[: match.start()]} (column {match.group(2)})"
    match = re.search(r"\s*\(at end of document\)\s*$", text)
    if match:
        text = f"{text[: match.start()]} (at the end of the file)"
        line = line or max(1, len(source.splitlines()))
    return line, text


def toml_type(value: object) -> str:
    """What a user would call the TOML type of `value`, for "must be X, not Y" messages."""
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)
