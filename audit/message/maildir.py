"""Maildir input: a directory with cur/ and new/ holds one message per file (the Maildir spec,
cr.yp.to/proto/maildir.html); tmp/ holds deliveries in progress and is never read."""

from __future__ import annotations

from pathlib import Path


def is_maildir(path: str) -> bool:
    folder = Path(path)
    return folder.is_dir() and (folder / "cur").is_dir() and (folder / "new").is_dir()


def expand_maildirs(paths: list[str]) -> list[str]:
    """`paths` with each Maildir replaced by its message files (new/ then cur/, by name: a
    stable order). Anything else is kept as given."""
    out: list[str] = []
    for path in paths:
        if path != "-" and is_maildir(path):
            for sub in ("new", "cur"):
                out += sorted(
                    str(f) for f in (Path(path) / sub).iterdir() if f.is_file()
                    and not f.name.startswith(".")
                )  # fmt: skip
        else:
            out.append(path)
    return out
