"""One SQLite state file (WAL, private directory, schema versioned by PRAGMA user_version).

The seed run state (audit/seed/state.py) and the receive inbox (audit/receive/store.py) both
keep their data this way: several processes share the file (a listener writes while `wait`,
`list` and the web view read), so every write is one BEGIN IMMEDIATE transaction.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class StateError(RuntimeError):
    """The state file cannot be used (unreadable, newer schema), or a record is unknown."""


def utc_now() -> str:
    """Now as ISO 8601 UTC to the second: what every state row records."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """$XDG_STATE_HOME/audit, else ~/.local/state/audit."""
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or ""
    root = Path(base) if os.path.isabs(base) else Path.home() / ".local" / "state"
    return root / "audit"


class SqliteStore:
    """Opens (creating it and its private directory) and migrates one state file.

    Subclasses set SCHEMA (statements separated by ';'), SCHEMA_VERSION and WHAT (the file's
    name in error messages). Safe to share between threads of one process.
    """

    SCHEMA = ""
    SCHEMA_VERSION = 1
    WHAT = "state file"
    ERROR: type[StateError] = StateError

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            # State files hold other people's mail: keep the directory private.
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._db = sqlite3.connect(
                self.path, timeout=10, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._lock = threading.RLock()
            self._migrate()
        except sqlite3.Error as exc:
            raise self.ERROR(f"{self.path}: cannot use the {self.WHAT}: {exc}") from None
        except OSError as exc:
            raise self.ERROR(f"{self.path}: cannot create the {self.WHAT}: {exc}") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken up front (BEGIN IMMEDIATE) so check-then-write is atomic
        across processes too."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _migrate(self) -> None:
        with self._tx() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                for statement in filter(None, (s.strip() for s in self.SCHEMA.split(";"))):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {self.SCHEMA_VERSION}")
            elif version > self.SCHEMA_VERSION:
                raise self.ERROR(
                    f"{self.path}: written by a newer audit (schema {version}, "
                    f"this one knows {self.SCHEMA_VERSION})"
                )
