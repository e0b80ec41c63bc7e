"""bench/scale.py runs end to end at a tiny N (the real sizes are run by hand)."""

from __future__ import annotations

import json
import shutil
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
    assert results["server"]["front"].startswith("C relay")  # CI has a C compiler
    assert 0 <= results["server"]["cpu_us_per_answer"] < 1000  # clock ticks: 0 at 200 queries
    assert all(0 <= row["server_cpu_share"] < 2 for row in results["audit"])


def test_bench_messages_measure_the_baseline_tree(tmp_path):
    """--baseline-tree runs import `audit` from that tree, not from the benchmark's own (the
    cwd comes first on sys.path with `python -m`): once they silently measured the same code."""
    _require_knot()
    base = tmp_path / "base"
    for package in ("audit", "reports"):
        shutil.copytree(ROOT / package, base / package)
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scale.py"), "--messages-only", "--messages", "4",
         "--flood", "100", "--delay-ms", "2", "--baseline-tree", str(base), "--workdir",
         str(tmp_path / "work"), "--json", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr + proc.stdout
    results = json.loads(out.read_text())
    assert results["imported_from"] == {
        "audit": str(ROOT / "audit" / "__init__.py"),
        "baseline": str(base / "audit" / "__init__.py"),
    }
    for key in ("message audit jobs=1", "message audit jobs=2", "message baseline jobs=1"):
        assert results["baselines"][key]["code"] == 0 and results["baselines"][key]["rate"] > 0
