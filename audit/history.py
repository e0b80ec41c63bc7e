"""Run history in SQLite: every `audit domain`, `audit message` and `audit check` run (batches
and `--jobs` runs too, gathered report by report as they stream), the whole
report, and an index by target, time and finding fingerprint, so drift can be shown later
(`audit history TARGET`, `audit diff RUN_A RUN_B`, `audit check --since last`).

Where: `$AUDIT_STATE_DIR/history.sqlite3`, else `$XDG_STATE_HOME/audit/history.sqlite3`, else
`~/.local/state/audit/history.sqlite3` (the folder the seed runs use); `--history FILE` chooses,
`--no-history` skips. Recording must never fail a run: the CLI turns any error into a warning.
Reports hold no secrets (DNS answers, headers, verdicts), so storing them adds none.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import sqlite3
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from audit.model import Report, Severity
from audit.report_load import report_from_dict

SCHEMA_VERSION = 1
FILE_NAME = "history.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    command TEXT NOT NULL,
    config TEXT,
    exit_code INTEGER NOT NULL,
    reports BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS run_targets (
    run_id TEXT NOT NULL REFERENCES runs(id),
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    findings INTEGER NOT NULL,
    exit_code INTEGER NOT NULL,
    PRIMARY KEY (run_id, kind, target)
);
CREATE TABLE IF NOT EXISTS run_findings (
    run_id TEXT NOT NULL REFERENCES runs(id),
    target TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    finding_target TEXT NOT NULL,
    severity TEXT NOT NULL,
    ignored INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS run_targets_by_target ON run_targets(target, run_id);
CREATE INDEX IF NOT EXISTS runs_by_config ON runs(config, created);
CREATE INDEX IF NOT EXISTS run_findings_by_fingerprint ON run_findings(fingerprint);
CREATE INDEX IF NOT EXISTS run_findings_by_run ON run_findings(run_id);
"""


class HistoryError(RuntimeError):
    """The history file cannot be used, or a run id is unknown; str() is one line."""


def default_history_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    explicit = env.get("AUDIT_STATE_DIR") or ""
    if explicit:
        return Path(explicit) / FILE_NAME
    base = env.get("XDG_STATE_HOME") or ""
    root = Path(base) if os.path.isabs(base) else Path.home() / ".local" / "state"
    return root / "audit" / FILE_NAME


@dataclass(frozen=True)
class RunSummary:
    id: str
    created: str
    command: str
    config: str | None
    exit_code: int
    target: str | None = None
    kind: str | None = None
    findings: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def new_run_id(now: dt.datetime | None = None) -> str:
    """Sortable by time and unique: 20261204T114900Z-3fa2c1."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


TargetRow = tuple[str, str, int, int]  # kind, target, findings, exit code
FindingRow = tuple[str, str, str, str, str, int]  # target, fingerprint, rule, ..., ignored
IndexRows = tuple[TargetRow, list[FindingRow]]


def index_rows(report: Report, fail_on: Severity) -> IndexRows:
    """What the history indexes about a report (its target row and one row per finding):
    worker processes compute it beside the report's JSON line, so the parent records a run
    without parsing its lines back into reports."""
    findings = report.findings()
    return (
        (report.kind, report.target, len(findings), report.exit_code(fail_on)),
        [
            (
                report.target,
                f.fingerprint(report.target),
                f.rule.id,
                f.target,
                f.effective_severity.value,
                int(f.ignored is not None),
            )
            for f in findings
        ],
    )


class RunBuffer:
    """A run's reports gathered as they finish, for HistoryStore.save: it keeps the compressed
    JSON and the index rows, not the Report objects, so a streamed batch of 10,000 domains is
    recorded without holding its reports in memory."""

    def __init__(self, fail_on: Severity = Severity.HIGH) -> None:
        self.fail_on = fail_on
        self.targets: list[TargetRow] = []
        self.findings: list[FindingRow] = []
        self._zip = zlib.compressobj()
        self._chunks = [self._zip.compress(b"[")]

    def add(self, report: Report, as_json: str | None = None) -> None:
        """One report; `as_json` is its JSON text when the caller already has it."""
        text = as_json if as_json is not None else json.dumps(report.to_dict())
        self.add_indexed(text, index_rows(report, self.fail_on))

    def add_indexed(self, text: str, rows: IndexRows) -> None:
        """One report as its JSON text and its index_rows (computed at this run's fail_on)."""
        separator = "," if self.targets else ""
        self._chunks.append(self._zip.compress((separator + text).encode("utf-8")))
        self.targets.append(rows[0])
        self.findings.extend(rows[1])

    def blob(self) -> bytes:
        tail = self._zip.copy()  # blob() may be called again; the buffer stays open
        return b"".join(self._chunks) + tail.compress(b"]") + tail.flush()


class HistoryStore:
    """One SQLite file; each method opens, works and closes (runs are short and may overlap)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @contextmanager
    def _db(self, *, create: bool) -> Iterator[sqlite3.Connection]:
        if not create and not self.path.is_file():
            raise HistoryError(f"no run history at {self.path} (runs are recorded as they happen)")
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = sqlite3.connect(self.path, timeout=10)
        except sqlite3.Error as exc:
            raise HistoryError(f"cannot open the run history {self.path}: {exc}") from None
        with closing(connection) as db:
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(_SCHEMA)
                db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
                )
                yield db
                db.commit()
            except sqlite3.DatabaseError as exc:
                raise HistoryError(f"run history {self.path}: {exc}") from None

    def record(
        self,
        command: str,
        reports: Sequence[Report],
        exit_code: int,
        *,
        config: str | None = None,
        run_id: str | None = None,
        fail_on: Severity = Severity.HIGH,
    ) -> str:
        run = RunBuffer(fail_on)
        for report in reports:
            run.add(report)
        return self.save(command, run, exit_code, config=config, run_id=run_id)

    def save(
        self,
        command: str,
        run: RunBuffer,
        exit_code: int,
        *,
        config: str | None = None,
        run_id: str | None = None,
    ) -> str:
        """Write a run gathered report by report, in one short transaction."""
        run_id = run_id or new_run_id()
        created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._db(create=True) as db:
            db.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, created, command, config, exit_code, run.blob()),
            )
            db.executemany(
                "INSERT OR REPLACE INTO run_targets VALUES (?, ?, ?, ?, ?)",
                [(run_id, *row) for row in run.targets],
            )
            db.executemany(
                "INSERT INTO run_findings VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(run_id, *row) for row in run.findings],
            )
        return run_id

    def runs_for(self, target: str, limit: int = 20) -> list[RunSummary]:
        """The runs that audited `target` (a domain, a message file, a config), newest first."""
        with self._db(create=False) as db:
            rows = db.execute(
                "SELECT r.id, r.created, r.command, r.config, t.exit_code, t.target, t.kind, "
                "t.findings FROM run_targets t JOIN runs r ON r.id = t.run_id "
                "WHERE lower(t.target) = lower(?) ORDER BY r.created DESC, r.id DESC LIMIT ?",
                (target.rstrip("."), limit),
            ).fetchall()
        return [RunSummary(*row) for row in rows]

    def last_run(self, command: str, config: str | None, before: str | None = None) -> str | None:
        """The newest run of `command` with the same config (other than `before`)."""
        with self._db(create=False) as db:
            row = db.execute(
                "SELECT id FROM runs WHERE command = ? AND config IS ? AND id IS NOT ? "
                "ORDER BY created DESC, id DESC LIMIT 1",
                (command, config, before),
            ).fetchone()
        return row[0] if row else None

    def load(self, run_id: str) -> list[Report]:
        with self._db(create=False) as db:
            row = db.execute("SELECT reports FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                matches = db.execute(
                    "SELECT id FROM runs WHERE id LIKE ? LIMIT 2", (run_id + "%",)
                ).fetchall()
                if len(matches) == 1:
                    row = db.execute(
                        "SELECT reports FROM runs WHERE id = ?", (matches[0][0],)
                    ).fetchone()
        if row is None:
            raise HistoryError(f"no run {run_id!r} in {self.path} (see `audit history TARGET`)")
        return [report_from_dict(d) for d in json.loads(zlib.decompress(row[0]).decode("utf-8"))]
