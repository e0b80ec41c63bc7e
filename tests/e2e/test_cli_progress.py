"""A single long run says what it is waiting on (stderr on a terminal), and nothing otherwise."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from audit.cli_progress import LiveChecks
from audit.model import CheckOutcome, Status
from tests.infra.tty import stderr_on_a_terminal

ZONES = Path(__file__).resolve().parents[2] / "fixtures" / "zones"


def _silent_dns_server() -> socket.socket:
    """A UDP socket that takes queries and never answers: every lookup waits for its timeout."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def test_a_slow_single_domain_names_the_checks_it_waits_on():
    server = _silent_dns_server()
    port = server.getsockname()[1]
    args = [sys.executable, "-m", "audit", "domain", "example.test", "--dns-server",
            f"127.0.0.1:{port}", "--timeout", "1", "--format", "json"]  # fmt: skip
    try:
        code, shown = stderr_on_a_terminal(args)
        quiet_code, quiet_shown = stderr_on_a_terminal(args[:3] + ["-q"] + args[3:])
        piped = subprocess.run(args, capture_output=True, text=True, timeout=120)
    finally:
        server.close()
    assert code == quiet_code == piped.returncode == 3  # nothing answered: inconclusive
    assert "auditing: " in shown and "waiting on " in shown
    assert "spf" in shown.split("waiting on ", 1)[1]
    assert "waiting on" not in quiet_shown
    assert "waiting on" not in piped.stderr and "auditing" not in piped.stderr


def test_several_targets_each_get_a_line_as_they_finish():
    args = [sys.executable, "-m", "audit", "domain", "clean.test", "dmarc-none.test",
            "--zone-dir", str(ZONES), "--format", "json"]  # fmt: skip
    _, shown = stderr_on_a_terminal(args)
    assert "audited clean.test" in shown and "audited dmarc-none.test" in shown


def test_the_status_line_counts_finished_checks_and_names_the_oldest_running():
    live = LiveChecks(1, enabled=False)
    live.check_started("a.test", "spf")
    live.check_started("a.test", "dnssec")
    live.check_finished(CheckOutcome("spf", "a.test", Status.COMPLETED))
    line = live._line().plain
    assert line.startswith("auditing: 1 checks done; waiting on dnssec ")
    live.check_finished(CheckOutcome("dnssec", "a.test", Status.COMPLETED))
    assert live._line().plain == "auditing: 2 checks done"


def test_many_running_checks_are_counted_not_all_named():
    live = LiveChecks(2, enabled=False)
    for check in ("spf", "dkim", "dmarc", "mx", "ptr", "bimi"):
        live.check_started("a.test", check)
    line = live._line().plain
    assert line.startswith("auditing: 0 checks done, 0/2 targets; waiting on spf (a.test) ")
    assert line.endswith("+2 more") and "ptr" not in line
