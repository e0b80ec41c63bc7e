"""`audit domain --scheduler`: a real Dask LocalCluster (two worker processes on loopback)
gives the same reports as one machine, and a chunk whose worker dies is done again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ZONES

distributed = pytest.importorskip("distributed") if not os.environ.get("CI") else None
from distributed import Client, LocalCluster  # noqa: E402 - after the skip outside CI

ALL = sorted(p.name[: -len(".zone")] for p in ZONES.glob("*.test.zone"))
DOMAINS = sorted({*ALL[:22], "clean.test", "spf-too-many.test"})


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=":0", worker_dashboard_address=":0",
    ) as running:  # fmt: skip
        yield running


def _essence(line: str) -> tuple:
    report = json.loads(line)
    return (
        report["target"],
        report["summary"],
        [(o["check"], o["status"], sorted((f["rule_id"], f["target"]) for f in o["findings"]))
         for o in report["outcomes"]],  # fmt: skip
        sorted((q["name"], q["type"], q["status"], tuple(q["answers"])) for q in report["queries"]),
    )


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "audit", *args], capture_output=True, text=True, timeout=600
    )


def test_cluster_results_equal_one_machine(tmp_path, cluster, knot_server):
    listing = tmp_path / "domains.txt"
    listing.write_text("\n".join(DOMAINS) + "\n")
    base = ["domain", "--from-file", str(listing), "--dns-server", str(knot_server),
            "--no-probes", "--format", "jsonl"]  # fmt: skip
    local = _run(*base, "-o", str(tmp_path / "local.jsonl"))
    remote = _run(*base, "--scheduler", cluster.scheduler_address, "-o", str(tmp_path / "d.jsonl"))
    assert remote.returncode == local.returncode, remote.stderr
    assert "Traceback" not in remote.stderr
    mine = sorted(_essence(x) for x in (tmp_path / "local.jsonl").read_text().splitlines())
    theirs = sorted(_essence(x) for x in (tmp_path / "d.jsonl").read_text().splitlines())
    assert [e[0] for e in theirs] == DOMAINS
    assert theirs == mine
    failing = {e[0] for e in theirs if any(r == "SPF201" for c in e[2] for r, _ in c[2])}
    assert "spf-too-many.test" in failing and "clean.test" not in failing


def test_a_lost_worker_chunk_is_done_again(tmp_path, cluster, delay_proxy):
    slow = delay_proxy(120)
    listing = tmp_path / "domains.txt"
    listing.write_text("\n".join(DOMAINS[:12]) + "\n")
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "audit", "domain", "--from-file", str(listing), "--dns-server",
         str(slow), "--no-probes", "--format", "jsonl", "-o", str(out), "--scheduler",
         cluster.scheduler_address, "--concurrency", "1"],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not out.exists() or not out.read_text().count("\n")):
        time.sleep(0.05)
    with Client(cluster.scheduler_address, timeout=30) as client:
        pids = client.run(os.getpid)
        busy = [w for w, tasks in client.processing().items() if tasks]
    victim = pids[busy[0]] if busy else next(iter(pids.values()))
    os.kill(victim, signal.SIGKILL)  # the nanny starts a new worker; Dask reruns its chunk
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode in (0, 1, 3), stderr
    targets = [json.loads(line)["target"] for line in out.read_text().splitlines()]
    assert sorted(targets) == DOMAINS[:12]  # every domain once: none lost, none twice
