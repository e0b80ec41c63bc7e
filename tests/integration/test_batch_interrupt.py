"""Ctrl-C in the middle of a batch run leaves a valid JSONL file that --resume finishes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from tests.conftest import ZONES

DOMAINS = sorted(p.name[: -len(".zone")] for p in ZONES.glob("*.test.zone"))[:16]


def test_sigint_leaves_whole_lines_and_resume_finishes(tmp_path, delay_proxy):
    slow = delay_proxy(150)
    listing = tmp_path / "domains.txt"
    listing.write_text("\n".join(DOMAINS) + "\n")
    out = tmp_path / "out.jsonl"
    base = ["domain", "--from-file", str(listing), "--dns-server", str(slow), "--no-probes",
            "--concurrency", "2"]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "audit", *base, "--format", "jsonl", "-o", str(out)],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and (not out.exists() or not out.read_text().count("\n")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted after" in stderr
    text = out.read_text()
    assert text.endswith("\n")
    first = [json.loads(line)["target"] for line in text.splitlines()]  # every line whole
    assert 1 <= len(first) < len(DOMAINS)
    resumed = subprocess.run(
        [sys.executable, "-m", "audit", *base, "--resume", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode in (0, 1, 3), resumed.stderr
    final = [json.loads(line)["target"] for line in out.read_text().splitlines()]
    assert final[: len(first)] == first
    assert sorted(final) == DOMAINS  # each domain exactly once
