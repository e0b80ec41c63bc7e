"""What a receiver wrote about a message it accepted: Authentication-Results (RFC 8601) and
Received-SPF (RFC 7208 9.1).

Pure and forgiving: these headers come from many implementations (and from whoever sent the
message), so anything that does not parse is kept as an `errors` note, never raised. Comments
are kept: receivers put useful words there ("domain of x designates 192.0.2.1 as permitted
sender", "p=REJECT dis=NONE").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_HEADER_CHARS = 64 * 1024  # one header field; longer input is cut with an errors note


@dataclass
class _Token:
    """A run of text between whitespace, comments and ';'. Quoted strings are unquoted in place."""

    text: str
    eq: int  # index of the first '=' outside a quoted string, -1 when there is none


@dataclass
class _Segment:
    tokens: list[_Token] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)


def _lex(text: str, errors: list[str]) -> list[_Segment]:
    """Split at top-level ';' into tokens and comments (nested, with quoted-pairs)."""
    if len(text) > MAX_HEADER_CHARS:
        errors.append(f"header longer than {MAX_HEADER_CHARS} characters: the rest was ignored")
        text = text[:MAX_HEADER_CHARS]
    segments = [_Segment()]
    chars: list[str] = []
    eq = -1
    active = False

    def flush() -> None:
        nonlocal chars, eq, active
        if active:
            segments[-1].tokens.append(_Token("".join(chars), eq))
        chars, eq, active = [], -1, False

    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            flush()
            i += 1
        elif ch == "(":
            flush()
            depth, j, comment = 1, i + 1, []
            while j < n:
                cj = text[j]
                if cj == "\\" and j + 1 < n:
                    comment.append(text[j + 1])
                    j += 2
                    continue
                if cj == "(":
                    depth += 1
                elif cj == ")":
                    depth -= 1
                    if depth == 0:
                        break
                comment.append(cj)
                j += 1
            if depth:
                errors.append("unterminated comment")
            segments[-1].comments.append(" ".join("".join(comment).split()))
            i = j + 1
        elif ch == ";":
            flush()
            segments.append(_Segment())
            i += 1
        elif ch == '"':
            j = i + 1
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                chars.append(text[j])
                j += 1
            if j >= n:
                errors.append("unterminated quoted string")
            active = True
            i = j + 1
        else:
            if ch == "=" and eq < 0:
                eq = len(chars)
            chars.append(ch)
            active = True
            i += 1
    flush()
    return segments


def _join_pairs(tokens: list[_Token]) -> list[_Token]:
    """`key = value` and `key =value` (CFWS around '=' is allowed) become one `key=value`."""
    out: list[_Token] = []
    for token in tokens:
        if out:
            last = out[-1]
            glue_left = last.eq < 0 and token.eq == 0  # "dkim" then "=pass" or "="
            glue_right = last.eq >= 0 and last.eq == len(last.text) - 1  # "dkim=" then "pass"
            if glue_left or glue_right:
                eq = last.eq if last.eq >= 0 else len(last.text) + token.eq
                out[-1] = _Token(last.text + token.text, eq)
                continue
        out.append(token)
    return out


def _split(token: _Token) -> tuple[str, str] | None:
    if token.eq <= 0:
        return None
    return token.text[: token.eq], token.text[token.eq + 1 :]


@dataclass
class ResInfo:
    """One `method=result` statement with its reason and `ptype.property=value` pairs."""

    method: str  # lower-case: spf, dkim, dmarc, arc, iprev, auth, compauth ...
    result: str  # lower-case
    version: str | None = None
    reason: str | None = None
    properties: list[tuple[str, str]] = field(default_factory=list)  # ("header.d", "x.example")
    comments: list[str] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        """The first value of a property (`header.d`, `smtp.mailfrom`), case-insensitively."""
        name = name.lower()
        return next((v for k, v in self.properties if k == name), None)

    def to_dict(self) -> dict[str, Any]:
        props: dict[str, str] = {}
        for key, value in self.properties:
            props.setdefault(key, value)
        return {
            "method": self.method,
            "version": self.version,
            "result": self.result,
            "reason": self.reason,
            "properties": props,
            "comments": list(self.comments),
        }


@dataclass
class AuthenticationResults:
    """One Authentication-Results header field (RFC 8601 2.2)."""

    raw: str
    authserv_id: str | None  # None: the header named none (Microsoft writes it so)
    version: str | None = None
    results: list[ResInfo] = field(default_factory=list)
    no_result: bool = False  # "; none": the receiver evaluated nothing
    comments: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def methods(self, method: str) -> list[ResInfo]:
        return [r for r in self.results if r.method == method.lower()]

    def to_dict(self) -> dict[str, Any]:
        return {
            "authserv_id": self.authserv_id,
            "version": self.version,
            "none": self.no_result,
            "results": [r.to_dict() for r in self.results],
            "comments": list(self.comments),
            "errors": list(self.errors),
            "raw": self.raw,
        }


def _resinfo(segment: _Segment, tokens: list[_Token], errors: list[str]) -> ResInfo | None:
    head = _split(tokens[0])
    if head is None:
        errors.append(f"expected method=result, found {tokens[0].text[:40]!r}")
        return None
    method, result = head
    version = None
    if "/" in method:
        method, _, version = method.partition("/")
        version = version.strip() or None
    info = ResInfo(
        method.strip().lower(), result.strip().lower(), version, comments=list(segment.comments)
    )
    if not info.method or not info.result:
        errors.append(f"empty method or result in {tokens[0].text[:40]!r}")
        return None
    for token in tokens[1:]:
        pair = _split(token)
        if pair is None:
            errors.append(f"stray text {token.text[:40]!r} after {info.method}={info.result}")
            continue
        key, value = pair[0].strip().lower(), pair[1].strip()
        if key == "reason":
            info.reason = value
        else:
            info.properties.append((key, value))
    return info


def parse_authentication_results(value: str) -> AuthenticationResults:
    """Parse one Authentication-Results value (the text after the colon)."""
    text = value if isinstance(value, str) else str(value)
    unfolded = " ".join(text.split())
    errors: list[str] = []
    segments = _lex(text, errors)
    parsed = AuthenticationResults(raw=unfolded, authserv_id=None, errors=errors)
    first = segments[0]
    head = _join_pairs(first.tokens)
    parsed.comments.extend(first.comments)
    rest = segments[1:]
    if head and head[0].eq < 0:
        parsed.authserv_id = head[0].text.lower().rstrip(".") or None
        head = head[1:]
        if head and head[0].eq < 0 and head[0].text.isdigit():
            parsed.version = head[0].text
            head = head[1:]
    if head:
        if head[0].eq < 0:
            errors.append(f"unexpected text after the authserv-id: {head[0].text[:40]!r}")
        else:  # no authserv-id, or a missing ';' before the first result
            info = _resinfo(_Segment(head, []), head, errors)
            if info:
                parsed.results.append(info)
    for segment in rest:
        tokens = _join_pairs(segment.tokens)
        if not tokens:
            if segment.comments:
                parsed.comments.extend(segment.comments)
            continue
        if len(tokens) == 1 and tokens[0].eq < 0 and tokens[0].text.lower() == "none":
            parsed.no_result = True
            continue
        info = _resinfo(segment, tokens, errors)
        if info:
            parsed.results.append(info)
    if parsed.authserv_id is None and not parsed.results and not parsed.no_result:
        errors.append("no authserv-id and no results")
    return parsed


@dataclass
class ReceivedSpf:
    """One Received-SPF header field (RFC 7208 9.1)."""

    raw: str
    result: str | None  # lower-case; None when the header does not start with a result
    comment: str | None = None
    pairs: dict[str, str] = field(default_factory=dict)  # client-ip, envelope-from, helo ...
    errors: list[str] = field(default_factory=list)

    @property
    def receiver(self) -> str | None:
        """receiver=, else the host the comment names first ("mx.example: domain of ...")."""
        named = self.pairs.get("receiver")
        if named and not named.startswith("<"):
            return named.lower().rstrip(".")
        if self.comment and ":" in self.comment:
            host = self.comment.split(":", 1)[0].strip()
            if host and " " not in host and "." in host:
                return host.lower().rstrip(".")
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "comment": self.comment,
            "pairs": dict(self.pairs),
            "receiver": self.receiver,
            "errors": list(self.errors),
            "raw": self.raw,
        }


def parse_received_spf(value: str) -> ReceivedSpf:
    """Parse one Received-SPF value: `result (comment) key=value; key=value`."""
    text = value if isinstance(value, str) else str(value)
    errors: list[str] = []
    segments = _lex(text, errors)
    parsed = ReceivedSpf(raw=" ".join(text.split()), result=None, errors=errors)
    first = segments[0]
    tokens = _join_pairs(first.tokens)
    if first.comments:
        parsed.comment = first.comments[0]
    if tokens and tokens[0].eq < 0:
        parsed.result = tokens[0].text.lower()
        tokens = tokens[1:]
    else:
        errors.append("no SPF result at the start")
    for segment in [_Segment(tokens, []), *segments[1:]]:
        for token in _join_pairs(segment.tokens):
            pair = _split(token)
            if pair is None:
                errors.append(f"stray text {token.text[:40]!r}")
                continue
            parsed.pairs.setdefault(pair[0].strip().lower(), pair[1].strip())
    return parsed
