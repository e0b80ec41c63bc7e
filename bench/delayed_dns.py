"""The benchmarks' DNS server: Knot behind a front holding every UDP answer back a fixed delay.

dnsdist (`apt-get install dnsdist`) with its DelayAction is the front when installed: C++, about
10,000 answers a second at 400 in flight here (the Python flood client's limit) for ~45 us of CPU
each, its packet cache sparing Knot the repeats, so the server is not what a benchmark
measures. Without it, bench/delay_relay.py (Python, a few thousand a second at most, and it
takes CPU from what is measured) stands in, and the benchmark says so.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent

DNSDIST_CONFIG = """\
setSecurityPollSuffix("")
setLocal("127.0.0.1:{port}")
newServer({{address="127.0.0.1:{upstream}", name="knot", checkInterval=3600}})
getPool(""):setCache(newPacketCache(200000, {{maxTTL=86400, minTTL=0}}))
addAction(AllRule(), DelayAction({delay_ms}))
"""


@dataclass
class DelayedServer:
    port: int
    kind: str
    process: subprocess.Popen

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start(upstream: int, delay_ms: float, workdir: Path, port: int) -> DelayedServer:
    """The front on `port` before Knot on `upstream`: dnsdist if installed, else the relay."""
    if shutil.which("dnsdist"):
        return _start_dnsdist(upstream, delay_ms, workdir, port)
    relay = subprocess.Popen(
        [sys.executable, str(BENCH / "delay_relay.py"), str(port), str(upstream), str(delay_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert relay.stdout is not None and relay.stdout.readline().startswith("ready")
    return DelayedServer(port, "Python relay (dnsdist not installed)", relay)


def _start_dnsdist(upstream: int, delay_ms: float, workdir: Path, port: int) -> DelayedServer:
    config = workdir / "dnsdist.conf"
    config.write_text(DNSDIST_CONFIG.format(port=port, upstream=upstream, delay_ms=round(delay_ms)))
    log = (workdir / "dnsdist.log").open("w")
    process = subprocess.Popen(
        ["dnsdist", "-C", str(config), "--supervised", "--disable-syslog"],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while "Marking downstream" not in (workdir / "dnsdist.log").read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"dnsdist did not start: {(workdir / 'dnsdist.log').read_text()}")
        time.sleep(0.1)
    return DelayedServer(port, "dnsdist", process)
