"""Seed run state in SQLite: what was sent to whom, the copies read back, the final report.

The point is that a run can be resumed without mailing anyone twice. A send is recorded as
'sending' *before* the message leaves and as 'sent'/'failed' after; a row still 'sending' when
a run is resumed may or may not have gone out, so it is never sent again and is reported as
unknown (interrupted). The store refuses a second 'sending' for a seed that has one, so even two
processes resuming the same run at once cannot both send. Passwords are never stored.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.store import SqliteStore, state_dir, utc_now
from audit.store import StateError as BaseStateError

SCHEMA_VERSION = 1

SENDING, SENT, FAILED, INTERRUPTED = "sending", "sent", "failed", "interrupted"
SKIPPED = "skipped"  # never attempted (the run stopped first): a resume may send it
SEND_STATUSES = (SENDING, SENT, FAILED, INTERRUPTED, SKIPPED)
# Never send again: it went out, or it may have.
NO_RESEND = (SENDING, SENT, INTERRUPTED)
INTERRUPTED_LABEL = "unknown (interrupted)"

RUNNING, FINISHED = "running", "finished"

_SCHEMA = """
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    status TEXT NOT NULL,
    params TEXT NOT NULL,
    finished TEXT,
    report TEXT
);
CREATE TABLE sends (
    run_id TEXT NOT NULL REFERENCES runs(id),
    seed TEXT NOT NULL,
    token TEXT NOT NULL,
    message_id TEXT,
    status TEXT NOT NULL,
    error TEXT,
    provider_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 1,
    updated TEXT NOT NULL,
    PRIMARY KEY (run_id, seed)
);
CREATE TABLE copies (
    run_id TEXT NOT NULL REFERENCES runs(id),
    seed TEXT NOT NULL,
    folder TEXT NOT NULL,
    placement TEXT NOT NULL,
    raw BLOB NOT NULL,
    found_at TEXT NOT NULL,
    delay_s REAL,
    PRIMARY KEY (run_id, seed)
);
"""


class StateError(BaseStateError):
    """The state file cannot be used, a run id is unknown, or a send would be a second one."""


class AlreadySent(StateError):
    """record_send('sending') for a seed this run already sent to (or may have)."""


@dataclass(frozen=True)
class RunRecord:
    id: str
    created: str  # ISO 8601 UTC
    status: str  # running | finished
    params: dict[str, Any]
    finished: str | None
    report: str | None  # the report JSON of a finished run

    @property
    def report_data(self) -> dict[str, Any] | None:
        """The report JSON parsed (what audit.report_load.report_from_dict takes)."""
        return json.loads(self.report) if self.report else None


@dataclass(frozen=True)
class SendRecord:
    seed: str
    token: str
    message_id: str | None
    status: str  # sending | sent | failed | interrupted | skipped
    error: str | None
    provider_id: str | None
    attempts: int
    updated: str

    @property
    def outcome(self) -> str:
        """What a report says: sent, failed, or unknown (interrupted)."""
        return INTERRUPTED_LABEL if self.status in (SENDING, INTERRUPTED) else self.status


@dataclass(frozen=True)
class CopyRecord:
    seed: str
    folder: str
    placement: str  # inbox | spam | other
    raw: bytes
    found_at: str  # ISO 8601 UTC
    delay_s: float | None


def default_state_path(env: Mapping[str, str] | None = None) -> Path:
    """$XDG_STATE_HOME/audit/seed.sqlite3, else ~/.local/state/audit/seed.sqlite3."""
    return state_dir(env) / "seed.sqlite3"


_now = utc_now


def _iso(value: dt.datetime | str | float) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        value = dt.datetime.fromtimestamp(value, dt.UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="seconds")


def new_run_id(now: dt.datetime | None = None) -> str:
    """A short id that sorts by day: 20261130-1a2b3c."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%d}-{secrets.token_hex(3)}"


class RunStore(SqliteStore):
    """One SQLite file (WAL) of seed runs. Safe to share between threads of one process."""

    SCHEMA = _SCHEMA
    SCHEMA_VERSION = SCHEMA_VERSION
    WHAT = "seed state file"
    ERROR = StateError

    def __enter__(self) -> RunStore:
        return self

    # --- runs -----------------------------------------------------------------------------

    def create_run(self, params: Mapping[str, Any]) -> str:
        """A new run with its parameters (JSON-able; no secrets); returns its id."""
        text = json.dumps(dict(params), sort_keys=True, default=str)
        for _ in range(20):
            run_id = new_run_id()
            try:
                with self._tx() as db:
                    db.execute(
                        "INSERT INTO runs (id, created, status, params) VALUES (?, ?, ?, ?)",
                        (run_id, _now(), RUNNING, text),
                    )
                return run_id
            except sqlite3.IntegrityError:
                continue
        raise StateError("could not find a free run id")  # pragma: no cover

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run, or None when there is no such run."""
        with self._lock:
            row = self._db.execute(
                "SELECT id, created, status, params, finished, report FROM runs WHERE id = ?",
                (run_id,),
            ).fetchone()
        return None if row is None else _run(row)

    def list_runs(self) -> list[RunRecord]:
        """Every run, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, created, status, params, finished, report FROM runs "
                "ORDER BY created DESC, rowid DESC"
            ).fetchall()
        return [_run(r) for r in rows]

    def finish_run(self, run_id: str, report_json: str | Mapping[str, Any]) -> None:
        """Store the final report (JSON text, or a dict to dump) and mark the run finished."""
        if not isinstance(report_json, str):
            report_json = json.dumps(report_json, sort_keys=True)
        with self._tx() as db:
            cur = db.execute(
                "UPDATE runs SET status = ?, finished = ?, report = ? WHERE id = ?",
                (FINISHED, _now(), report_json, run_id),
            )
            if cur.rowcount == 0:
                raise StateError(f"no seed run {run_id!r} in {self.path}")

    def resume_run(self, run_id: str) -> set[str]:
        """Start resuming a run: every send still 'sending' (the process died mid-send) becomes
        'interrupted', and those seeds are returned. The run is 'running' again."""
        with self._tx() as db:
            if db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                raise StateError(f"no seed run {run_id!r} in {self.path}")
            seeds = {
                r[0]
                for r in db.execute(
                    "SELECT seed FROM sends WHERE run_id = ? AND status = ?", (run_id, SENDING)
                )
            }
            db.execute(
                "UPDATE sends SET status = ?, error = ?, updated = ? "
                "WHERE run_id = ? AND status = ?",
                (INTERRUPTED, "interrupted while sending", _now(), run_id, SENDING),
            )
            db.execute("UPDATE runs SET status = ? WHERE id = ?", (RUNNING, run_id))
        return seeds

    # --- sends ----------------------------------------------------------------------------

    def record_send(
        self,
        run_id: str,
        seed_address: str,
        *,
        token: str,
        status: str,
        message_id: str | None = None,
        error: str | None = None,
        provider_id: str | None = None,
    ) -> None:
        """Record 'sending' before handing the message over, then 'sent' or 'failed'.

        'sending' raises AlreadySent when this seed already has a 'sending', 'sent' or
        'interrupted' send in this run; a 'failed' or 'skipped' one may be tried again. A later
        call without message_id/provider_id keeps the ones recorded before.
        """
        if status not in SEND_STATUSES:
            raise ValueError(f"unknown send status {status!r}")
        with self._tx() as db:
            row = db.execute(
                "SELECT status, attempts FROM sends WHERE run_id = ? AND seed = ?",
                (run_id, seed_address),
            ).fetchone()
            if status == SENDING and row is not None and row[0] in NO_RESEND:
                raise AlreadySent(f"{seed_address} already has a send in run {run_id} ({row[0]})")
            attempts = (row[1] + (status == SENDING)) if row else 1
            try:
                db.execute(
                    "INSERT INTO sends (run_id, seed, token, message_id, status, error, "
                    "provider_id, attempts, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (run_id, seed) DO UPDATE SET token = excluded.token, "
                    "message_id = coalesce(excluded.message_id, sends.message_id), "
                    "status = excluded.status, error = excluded.error, "
                    "provider_id = coalesce(excluded.provider_id, sends.provider_id), "
                    "attempts = excluded.attempts, updated = excluded.updated",
                    (
                        run_id,
                        seed_address,
                        token,
                        message_id,
                        status,
                        error,
                        provider_id,
                        attempts,
                        _now(),
                    ),
                )
            except sqlite3.IntegrityError:
                raise StateError(f"no seed run {run_id!r} in {self.path}") from None

    def sent_seeds(self, run_id: str) -> set[str]:
        """Seeds a resumed run must not send to again: sent, or possibly sent (a 'sending' or
        'interrupted' row). Failed sends are not in it: they may be retried."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT seed FROM sends WHERE run_id = ? AND status IN "
                f"({','.join('?' * len(NO_RESEND))})",
                (run_id, *NO_RESEND),
            ).fetchall()
        return {r[0] for r in rows}

    def send_states(self, run_id: str) -> dict[str, str]:
        """{seed: status} as recorded (sending, sent, failed, interrupted, skipped)."""
        return {seed: record.status for seed, record in self.sends(run_id).items()}

    def sends(self, run_id: str) -> dict[str, SendRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seed, token, message_id, status, error, provider_id, attempts, updated "
                "FROM sends WHERE run_id = ? ORDER BY seed",
                (run_id,),
            ).fetchall()
        return {r[0]: SendRecord(*r) for r in rows}

    # --- copies ---------------------------------------------------------------------------

    def record_copy(
        self,
        run_id: str,
        seed_address: str,
        *,
        folder: str,
        placement: str,
        raw: bytes,
        found_at: dt.datetime | str | float | None = None,
        delay_s: float | None = None,
    ) -> None:
        """The copy read back from a seed mailbox (one per seed; a later call replaces it)."""
        with self._tx() as db:
            try:
                db.execute(
                    "INSERT OR REPLACE INTO copies (run_id, seed, folder, placement, raw, "
                    "found_at, delay_s) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        seed_address,
                        folder,
                        placement,
                        bytes(raw),
                        _now() if found_at is None else _iso(found_at),
                        delay_s,
                    ),
                )
            except sqlite3.IntegrityError:
                raise StateError(f"no seed run {run_id!r} in {self.path}") from None

    def copies(self, run_id: str) -> dict[str, CopyRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seed, folder, placement, raw, found_at, delay_s FROM copies "
                "WHERE run_id = ? ORDER BY seed",
                (run_id,),
            ).fetchall()
        return {r[0]: CopyRecord(r[0], r[1], r[2], bytes(r[3]), r[4], r[5]) for r in rows}


def _run(row: tuple) -> RunRecord:
    return RunRecord(
        id=row[0],
        created=row[1],
        status=row[2],
        params=json.loads(row[3]),
        finished=row[4],
        report=row[5],
    )
