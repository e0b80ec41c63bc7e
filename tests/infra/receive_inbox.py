"""`audit receive serve` as a subprocess on free loopback ports, for the receive tests.

    inbox = Inbox.start(tmp_path, "--zone-dir", ZONES)       # extra serve options
    address = inbox.new()                                    # audit receive new
    proc = inbox.cli("wait", address, "--format", "json")    # any `audit receive` command
    inbox.stop()

The real CLI (`python -m audit`), so what is tested is what a user runs. Its stderr goes to
`inbox.log`; `start` returns once it printed the line saying SMTP is listening.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.infra.netutil import IPV4_LOOPBACK
from tests.json_output import reports_of

DOMAIN = "inbox.test"


class Inbox:
    def __init__(self, process: subprocess.Popen, state: Path, log: Path, ports: tuple[int, int]):
        self.process, self.state, self.log = process, state, log
        self.port, self.web_port = ports
        self.host = IPV4_LOOPBACK
        self.domain = DOMAIN

    @classmethod
    def start(cls, directory: Path, *options: str, timeout: float = 30) -> Inbox:
        directory.mkdir(parents=True, exist_ok=True)
        state, log = directory / "inbox.sqlite3", directory / "serve.log"
        command = [  # port 0: the listener binds what the kernel gives and names it in its log
            sys.executable, "-m", "audit", "receive", "serve",
            "--listen", f"{IPV4_LOOPBACK}:0", "--web", f"{IPV4_LOOPBACK}:0",
            "--domain", DOMAIN, "--state", str(state), *map(str, options),
        ]  # fmt: skip
        with open(log, "w") as stream:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=stream, stderr=subprocess.STDOUT
            )
        inbox = cls(process, state, log, (0, 0))
        deadline = time.monotonic() + timeout
        while not (ports := _bound_ports(inbox.output())):
            if process.poll() is not None or time.monotonic() > deadline:
                inbox.stop()
                raise RuntimeError(f"audit receive serve did not start:\n{inbox.output()}")
            time.sleep(0.05)
        inbox.port, inbox.web_port = ports
        return inbox

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_kib(self) -> int:
        """The listener's resident memory (VmRSS) in KiB, from /proc."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """`audit receive ARGS --state STATE`."""
        return subprocess.run(
            [sys.executable, "-m", "audit", "receive", *args, "--state", str(self.state)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "COLUMNS": "120"},
        )

    def new(self) -> str:
        proc = self.cli("new")
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    def wait_report(self, address: str, timeout: float = 60) -> tuple[int, list[dict[str, Any]]]:
        """`wait --format json`: (exit code, the reports)."""
        proc = self.cli("wait", address, "--timeout", str(timeout), "--format", "json")
        assert proc.returncode in (0, 1, 3), proc.stderr
        assert proc.stdout, proc.stderr
        return proc.returncode, reports_of(proc.stdout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _bound_ports(log: str) -> tuple[int, int] | None:
    """(SMTP port, web port) from serve's "SMTP on HOST:PORT" and "web view on URL" lines."""
    smtp = re.search(r"SMTP on \S+:(\d+) ", log)
    web = re.search(r"web view on http://\S+:(\d+)/", log)
    return (int(smtp.group(1)), int(web.group(1))) if smtp and web else None


def findings(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(rule id, target) of every finding in a report dict."""
    return sorted((f["rule_id"], f["target"]) for o in report["outcomes"] for f in o["findings"])


def outcome(report: dict[str, Any], check: str) -> dict[str, Any]:
    return next(o for o in report["outcomes"] if o["check"] == check)
