"""A Knot DNS over a private copy of the fixture zones that a test may edit and reload, and a
way to run the CLI in a project directory (history kept in the test's own state folder)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import ZONES
from tests.infra.servers import KnotServer
from tests.json_output import reports_of


@dataclass
class EditableKnot:
    """Knot serving a copy of fixtures/zones; `edit(zone, old, new)` changes a zone file and
    restarts Knot on it (a new port: read `.address` again after an edit)."""

    root: Path
    server: KnotServer | None = None
    runs: int = 0
    zone_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        self.zone_dir = self.root / "zones"
        shutil.copytree(ZONES, self.zone_dir)
        self._start()

    def _start(self) -> None:
        self.runs += 1
        self.server = KnotServer.start(self.root / f"run{self.runs}", self.zone_dir)

    @property
    def address(self) -> str:
        assert self.server is not None
        return f"{self.server.host}:{self.server.port}"

    def zone(self, name: str) -> Path:
        return self.zone_dir / f"{name}.zone"

    def edit(self, name: str, old: str, new: str) -> None:
        path = self.zone(name)
        text = path.read_text()
        assert old in text, f"{old!r} not in {path.name}"
        text = text.replace(old, new)
        text = _bump_serial(text)
        path.write_text(text)
        self.restart()

    def restart(self) -> None:
        self.stop()
        self._start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


def _bump_serial(text: str) -> str:
    return re.sub(r"(SOA\s+\S+\s+\S+\s+)(\d+)", lambda m: f"{m.group(1)}{int(m.group(2)) + 1}",
                  text, count=1)  # fmt: skip


def run_audit(
    *args: str, cwd: Path, state: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if state is not None:
        env["AUDIT_STATE_DIR"] = str(state)
    return subprocess.run(
        [sys.executable, "-m", "audit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


def findings(reports: list[dict]) -> dict[tuple[str, str, str], dict]:
    """{(report target, rule id, finding target): finding} of a JSON report array."""
    return {
        (r["target"], f["rule_id"], f["target"]): f
        for r in reports
        for o in r["outcomes"]
        for f in o["findings"]
    }


def json_reports(proc: subprocess.CompletedProcess[str]) -> list[dict]:
    return reports_of(proc.stdout)
