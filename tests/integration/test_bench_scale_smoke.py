"""bench/scale.py runs end to end at a tiny N (the real sizes are run by hand)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT
from tests.integration.conftest import _require_knot


def test_bench_smoke(tmp_path):
    _require_knot()
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scale.py"), "--runs", "20:default,20:5",
         "--flood", "200", "--checkdmarc", "0,0", "--messages", "0", "--delay-ms", "2", "--workdir",
         str(tmp_path / "work"), "--json", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr + proc.stdout
    results = json.loads(out.read_text())
    assert [(r["n"], r["concurrency"]) for r in results["audit"]] == [(20, "default"), (20, "5")]
    for row in results["audit"]:
        assert row["lines"] == 20 and row["dns001_timeouts"] == 0
        assert row["code"] == 1  # the faulty domains (SPF over ten lookups...) fail
        assert row["rss_mb"] > 0 and row["rate"] > 0
    assert results["server"]["qps_capacity"] > 0
