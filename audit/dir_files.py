"""The files of one kind in a directory the user named (`--zone-dir`, `--esp-profiles`), or one
line saying why there are none. Pure file listing: no parsing."""

from __future__ import annotations

from pathlib import Path


def files_in(
    directory: Path, pattern: str, what: str, error: type[Exception] = ValueError
) -> list[Path]:
    """The files matching `pattern` (`*.zone`) in `directory`, sorted. Raises `error` with a
    one-line message naming the directory when it is missing, not a directory, unreadable or
    holds no such file; `what` names the files in it ("zone files")."""
    if not directory.is_dir():
        gone = "" if directory.exists() else ": it does not exist"
        raise error(f"{directory}: not a directory of {what} ({pattern}){gone}")
    try:
        files = sorted(directory.glob(pattern))
    except OSError as exc:
        raise error(f"{directory}: cannot be read: {exc.strerror}") from None
    if not files:
        raise error(f"{directory}: holds no {pattern} files ({what})")
    return files
