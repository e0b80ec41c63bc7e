"""How deeply a message's MIME containers nest, measured without recursion, and a parse that
never recurses deeper than that cap.

The stdlib parser (email.feedparser) recurses once per nested multipart or message/* part: a
message nested 2,000 deep, which anyone can send, raises RecursionError. Mail filters cap the
depth they descend (100 is common); we do the same: the depth is measured by one linear scan of
the lines, and a message over the cap is parsed for its header section only (every check reads
headers; DKIM works on the raw bytes), with MSG007 saying its body structure was not walked.
"""

from __future__ import annotations

import email
import email.parser
import email.policy
import functools
import re
from email.message import Message

MAX_MIME_DEPTH = 100  # nested containers walked; deeper is MSG007 mime-too-deep

_HEADER = re.compile(rb"^([!-9;-~]+)[ \t]*:(.*)$", re.DOTALL)
_MAY_CONTAIN = re.compile(rb"(?i)multipart|message")  # only these need the full parameter parse
_CONTAINER_MESSAGE = re.compile(rb"^message/(?!delivery-status\b)", re.IGNORECASE)


@functools.lru_cache(maxsize=256)  # repeated identical headers cost one parse
def _content_type(value: bytes) -> tuple[bytes, bytes | None]:
    """(lower-cased type/subtype, boundary or None) of a Content-Type value, read by the
    stdlib's own parameter parser (RFC 2231 `boundary*=`, quoting), so the scan and the parse
    agree on what opens a container."""
    holder = Message()
    holder["Content-Type"] = value.decode("latin-1").strip()
    boundary = holder.get_boundary()
    kind = holder.get_content_type().encode("latin-1", "replace")
    return kind, boundary.encode("latin-1", "replace").rstrip() if boundary else None


def _at_boundary(stack: list[bytes | None], line: bytes) -> bool | None:
    """None when `line` is no delimiter of an open multipart; else closes what it ends and says
    whether a part starts (True: `--b`) or the multipart ended (False: `--b--`)."""
    line = line.rstrip(b" \t")
    for index in range(len(stack) - 1, -1, -1):
        boundary = stack[index]
        if boundary is None:
            continue
        if line == b"--" + boundary + b"--":
            del stack[index:]
            return False
        if line == b"--" + boundary:
            del stack[index + 1 :]
            return True
    return None


def mime_depth(raw: bytes, limit: int = MAX_MIME_DEPTH) -> int:
    """How many multipart/* or message/* containers enclose the innermost part (a plain message
    is 0), found in one pass over the lines; the count stops at limit + 1.

    Follows what the stdlib parser does: a part's Content-Type header opens a container, a
    `--boundary` line of an enclosing multipart starts its next part (closing anything opened
    inside the previous one), `--boundary--` closes it.
    """
    if not _MAY_CONTAIN.search(raw):
        return 0  # no container can be declared: nothing to nest
    stack: list[bytes | None] = []  # boundaries of the open multiparts; None for message/*
    deepest = 0
    in_headers = True
    content_type: bytes | None = None
    last_was_content_type = False
    for line in raw.splitlines():  # CRLF, LF and a lone CR end a line, as in the stdlib parser
        # a boundary of an open multipart ends the current part wherever it appears, even in a
        # header section (the stdlib checks its boundary stack before anything else)
        opened = _at_boundary(stack, line) if stack and line.startswith(b"--") else None
        if opened is not None:
            in_headers, content_type, last_was_content_type = opened, None, False
            continue
        if not in_headers:
            continue
        if line[:1] in (b" ", b"\t") and line.strip():
            if last_was_content_type and content_type is not None:
                content_type += b" " + line.strip()
            continue
        field = _HEADER.match(line)
        if field:
            last_was_content_type = field.group(1).lower() == b"content-type"
            if last_was_content_type and content_type is None:
                content_type = field.group(2)
            continue
        # a blank line (or junk, which ends the header section too): the body starts
        kind, boundary = (
            _content_type(content_type)
            if content_type and _MAY_CONTAIN.search(content_type)
            else (b"", None)
        )
        content_type, last_was_content_type, in_headers = None, False, False
        if kind.startswith(b"multipart/") and boundary:
            stack.append(boundary)
        elif _CONTAINER_MESSAGE.match(kind):
            stack.append(None)
            in_headers = True  # the enclosed message's header section follows at once
        deepest = max(deepest, len(stack))
        if deepest > limit:
            return deepest
    return deepest


def parse_message(raw: bytes, limit: int = MAX_MIME_DEPTH) -> tuple[Message, int]:
    """The message parsed leniently (compat32 keeps raw header text) and its MIME depth; over
    the cap only the header section is parsed (the body stays one unparsed payload)."""
    depth = mime_depth(raw, limit)
    if depth <= limit:
        try:
            return email.message_from_bytes(raw, policy=email.policy.compat32), depth
        except RecursionError:  # a structure the scan did not foresee: treat it as too deep
            depth = limit + 1
    parser = email.parser.BytesParser(policy=email.policy.compat32)
    return parser.parsebytes(raw, headersonly=True), depth
