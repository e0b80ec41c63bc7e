"""`audit spf IP MAIL_FROM [--helo NAME]` as a user runs it (like spfquery)."""

import subprocess
import sys

import pytest

from tests.conftest import ZONES


def spf(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "audit", "spf", *args, "--zone-dir", str(ZONES)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_pass_with_trace():
    proc = spf("192.0.2.10", "user@clean.test", "--helo", "mx1.clean.test")
    assert proc.returncode == 0
    first, *rest = proc.stdout.splitlines()
    assert first == "pass: 192.0.2.10 for user@clean.test at clean.test"
    assert any("ip4:192.0.2.10" in line for line in rest)


def test_fail_names_the_matching_term():
    proc = spf("203.0.113.7", "user@clean.test")
    assert proc.stdout.startswith("fail: 203.0.113.7 for user@clean.test at clean.test")
    assert "-all" in proc.stdout


def test_null_sender_uses_helo():
    proc = spf("192.0.2.10", "<>", "--helo", "clean.test")
    assert proc.stdout.startswith("pass: 192.0.2.10 for postmaster@clean.test")


def test_include_tree_counts_lookups():
    proc = spf("192.0.2.1", "a@spf-too-many.test")
    assert proc.stdout.startswith("permerror: 192.0.2.1 for a@spf-too-many.test")
    assert "DNS lookups: 11/10" in proc.stdout
    assert "lookup number 11 (RFC 7208 4.6.4)" in proc.stdout


@pytest.mark.parametrize("ip", ["not-an-ip", "300.1.1.1"])
def test_bad_ip_is_exit_2(ip):
    proc = spf(ip, "user@clean.test")
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
