"""Reading raw messages: a file, stdin (`-`) or an mbox, bounded in size, never trusted.

The bytes are kept exactly as read: DKIM verifies bytes, and any re-encoding would break it.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAX_MESSAGE_BYTES = 25 * 1024 * 1024  # a receiver's practical limit (Gmail takes 25 MB)
MAX_MBOX_BYTES = 512 * 1024 * 1024  # an mbox holds many messages, but is read whole
_MBOX_SEPARATOR = re.compile(rb"^From \S*.*$", re.MULTILINE)
_HEADER_LINE = re.compile(rb"^[!-9;-~]+[ \t]*:")


class MessageInputError(ValueError):
    """Input that cannot be audited at all (missing, unreadable, too large): exit 2."""


@dataclass(frozen=True)
class RawMessage:
    name: str  # "sample.eml", "stdin", "box.mbox#2"
    raw: bytes


def _read_bounded(stream: BinaryIO, name: str, limit: int) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise MessageInputError(
            f"{name} is larger than the {limit // (1024 * 1024)} MiB limit (see --max-size)"
        )
    return data


def read_input(path: str, limit: int = MAX_MESSAGE_BYTES) -> bytes:
    if path == "-":
        return _read_bounded(sys.stdin.buffer, "stdin", limit)
    file = Path(path)
    if file.is_dir():
        raise MessageInputError(f"{path!r} is a directory, not a message file")
    try:
        size = file.stat().st_size
        if file.suffix == ".mbox" and size > MAX_MBOX_BYTES:
            raise MessageInputError(
                f"{path} is {size / (1024 * 1024):.0f} MiB, over the "
                f"{MAX_MBOX_BYTES // (1024 * 1024)} MiB mbox limit"
            )
        if size > limit and not file.suffix == ".mbox":
            raise MessageInputError(
                f"{path} is {size / (1024 * 1024):.1f} MiB, over the "
                f"{limit // (1024 * 1024)} MiB limit (see --max-size)"
            )
        with file.open("rb") as stream:
            if file.suffix == ".mbox":
                return _read_bounded(stream, path, MAX_MBOX_BYTES)
            return _read_bounded(stream, path, limit)
    except FileNotFoundError:
        raise MessageInputError(f"{path!r} does not exist") from None
    except OSError as exc:
        raise MessageInputError(f"cannot read {path!r}: {exc.strerror}") from None


def looks_like_mbox(data: bytes) -> bool:
    return data.startswith(b"From ") and not _HEADER_LINE.match(data)


def split_mbox(data: bytes) -> list[bytes]:
    """mboxrd/mboxo: messages start at `From ` lines; `>From ` quoting is undone."""
    starts = [m.start() for m in _MBOX_SEPARATOR.finditer(data)]
    messages = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(data)
        chunk = data[start:end]
        body = chunk.split(b"\n", 1)[1] if b"\n" in chunk else b""
        body = re.sub(rb"(?m)^>(>*From )", rb"\1", body)
        if body.endswith(b"\n\n"):
            body = body[:-1]
        messages.append(body)
    return messages


def load_messages(paths: list[str], limit: int = MAX_MESSAGE_BYTES) -> list[RawMessage]:
    """Every message named: files, `-` for stdin, mbox files split into their messages."""
    out: list[RawMessage] = []
    for path in paths:
        data = read_input(path, limit)
        name = "stdin" if path == "-" else path
        if looks_like_mbox(data):
            parts = split_mbox(data)
            for index, part in enumerate(parts, 1):
                if len(part) > limit:
                    raise MessageInputError(f"{name}#{index} is over the size limit")
                out.append(RawMessage(f"{name}#{index}", part))
            if not parts:
                out.append(RawMessage(name, data))
        else:
            out.append(RawMessage(name, data))
    return out
