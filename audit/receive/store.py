"""The inbox's SQLite file: issued tests, the messages received for them, and each result.

A message is written here by the SMTP listener *before* it answers 250, status 'pending'; the
audit worker turns it into 'audited' (with the report) or 'error' (the audit crashed: the
report is an error outcome). The database is the work queue: a listener that stops or crashes
leaves its pending messages here, and the next start audits them. A message sent to several
tests is stored once and linked to each.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.model import Report
from audit.report_load import report_from_dict
from audit.store import SqliteStore, StateError, state_dir, utc_now

PENDING, AUDITED, ERROR, REFUSED = "pending", "audited", "error", "refused"
DONE = (AUDITED, ERROR, REFUSED)

_SCHEMA = """
CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE tests (
    token TEXT PRIMARY KEY,
    domain TEXT NOT NULL,
    created TEXT NOT NULL,
    issued INTEGER NOT NULL
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    arrived TEXT NOT NULL,
    envelope TEXT NOT NULL,
    raw BLOB,
    status TEXT NOT NULL,
    report TEXT,
    audited TEXT
);
CREATE TABLE deliveries (
    token TEXT NOT NULL REFERENCES tests(token) ON DELETE CASCADE,
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    PRIMARY KEY (token, message_id)
);
CREATE INDEX messages_status ON messages(status, id)
"""


class InboxError(StateError):
    """The inbox file cannot be used."""


def default_inbox_path(env: Mapping[str, str] | None = None) -> Path:
    """$XDG_STATE_HOME/audit/receive.sqlite3, else ~/.local/state/audit/receive.sqlite3."""
    return state_dir(env) / "receive.sqlite3"


@dataclass(frozen=True)
class TestRecord:
    token: str
    domain: str
    created: str
    issued: bool  # False: created on arrival under --accept-any

    @property
    def address(self) -> str:
        return f"{self.token}@{self.domain}"


@dataclass(frozen=True)
class MessageRecord:
    id: int
    arrived: str
    envelope: dict[str, Any]
    status: str  # pending | audited | error | refused
    report_json: str | None
    audited: str | None

    @property
    def report(self) -> Report | None:
        return report_from_dict(json.loads(self.report_json)) if self.report_json else None


class InboxStore(SqliteStore):
    """Tests, messages and results of one inbox (shared by the listener, CLI and web view)."""

    SCHEMA = _SCHEMA
    SCHEMA_VERSION = 1
    WHAT = "receive inbox file"
    ERROR = InboxError

    def __enter__(self) -> InboxStore:
        return self

    # --- settings ---------------------------------------------------------------------------

    def set_setting(self, name: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO settings (name, value) VALUES (?, ?)", (name, value))

    def setting(self, name: str) -> str | None:
        rows = self._query("SELECT value FROM settings WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    # --- tests ------------------------------------------------------------------------------

    def add_test(self, token: str, domain: str, *, issued: bool = True) -> TestRecord:
        """Record a test (idempotent: an existing token keeps its first record)."""
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO tests (token, domain, created, issued) VALUES (?, ?, ?, ?)",
                (token, domain, utc_now(), int(issued)),
            )
        found = self.test(token)
        assert found is not None
        return found

    def test(self, token: str) -> TestRecord | None:
        rows = self._query(
            "SELECT token, domain, created, issued FROM tests WHERE token = ?", (token,)
        )
        return _test(rows[0]) if rows else None

    def tests(self) -> list[TestRecord]:
        """Every test, newest first."""
        rows = self._query(
            "SELECT token, domain, created, issued FROM tests ORDER BY created DESC, rowid DESC"
        )
        return [_test(r) for r in rows]

    def purge(self, older_than: str | None = None) -> int:
        """Forget tests created before `older_than` (ISO 8601 UTC; None: every test) and the
        messages no remaining test refers to. Returns how many tests went."""
        with self._tx() as db:
            if older_than is None:
                count = db.execute("DELETE FROM tests").rowcount
            else:
                count = db.execute("DELETE FROM tests WHERE created < ?", (older_than,)).rowcount
            db.execute(
                "DELETE FROM messages WHERE status != ? AND id NOT IN "
                "(SELECT message_id FROM deliveries)",
                (PENDING,),
            )
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return count

    # --- messages ---------------------------------------------------------------------------

    def add_message(
        self,
        tokens: list[str],
        envelope: Mapping[str, Any],
        raw: bytes | None,
        *,
        status: str = PENDING,
        report: Report | None = None,
    ) -> int:
        """Store one received (or refused) message for `tokens`; returns its id."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO messages (arrived, envelope, raw, status, report, audited) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    envelope.get("arrived") or utc_now(),
                    json.dumps(dict(envelope), sort_keys=True),
                    raw,
                    status,
                    json.dumps(report.to_dict(), sort_keys=True) if report else None,
                    utc_now() if status != PENDING else None,
                ),
            )
            message_id = int(cur.lastrowid or 0)
            for token in dict.fromkeys(tokens):
                try:
                    db.execute(
                        "INSERT INTO deliveries (token, message_id) VALUES (?, ?)",
                        (token, message_id),
                    )
                except sqlite3.IntegrityError:
                    raise InboxError(f"no test {token!r} in {self.path}") from None
        return message_id

    def finish_message(self, message_id: int, status: str, report: Report) -> None:
        """The audit's result: status 'audited' or 'error', and its report."""
        with self._tx() as db:
            db.execute(
                "UPDATE messages SET status = ?, report = ?, audited = ? WHERE id = ?",
                (status, json.dumps(report.to_dict(), sort_keys=True), utc_now(), message_id),
            )

    def pending(self, limit: int = 100, after: int = 0) -> list[int]:
        """Ids of messages still waiting for their audit, oldest first."""
        rows = self._query(
            "SELECT id FROM messages WHERE status = ? AND id > ? ORDER BY id LIMIT ?",
            (PENDING, after, limit),
        )
        return [r[0] for r in rows]

    def pending_count(self) -> int:
        return self._query("SELECT count(*) FROM messages WHERE status = ?", (PENDING,))[0][0]

    def raw(self, message_id: int) -> tuple[dict[str, Any], bytes, list[str]] | None:
        """(envelope, raw bytes, tokens) of one message, for the audit."""
        rows = self._query("SELECT envelope, raw FROM messages WHERE id = ?", (message_id,))
        if not rows:
            return None
        tokens = [
            r[0]
            for r in self._query(
                "SELECT token FROM deliveries WHERE message_id = ? ORDER BY token", (message_id,)
            )
        ]
        return json.loads(rows[0][0]), bytes(rows[0][1] or b""), tokens

    def messages(self, token: str) -> list[MessageRecord]:
        """The messages received for a test, in arrival order."""
        rows = self._query(
            "SELECT m.id, m.arrived, m.envelope, m.status, m.report, m.audited FROM messages m "
            "JOIN deliveries d ON d.message_id = m.id WHERE d.token = ? ORDER BY m.id",
            (token,),
        )
        return [MessageRecord(r[0], r[1], json.loads(r[2]), r[3], r[4], r[5]) for r in rows]

    def counts(self) -> dict[str, int]:
        """How many messages per status (what the listener's progress lines show)."""
        rows = self._query("SELECT status, count(*) FROM messages GROUP BY status")
        return {status: n for status, n in rows}


def _test(row: tuple) -> TestRecord:
    return TestRecord(row[0], row[1], row[2], bool(row[3]))
