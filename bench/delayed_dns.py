"""The benchmarks' DNS server: Knot behind a front holding every UDP answer back a fixed delay.

The front shares the cores with the tool being measured, so it must cost next to nothing:
  * bench/delay_relay.c (compiled here with `cc` into the work directory): one loop waking once
    a millisecond, reading and sending every waiting packet in batches (recvmmsg/sendmmsg),
    ~10-20 us of CPU per answer with Knot's (the flood measures it), and no wake-up of the
    server per packet sent to it; TCP too (checkdmarc asks its DNSSEC questions over TCP);
  * dnsdist (`apt-get install dnsdist`) with its DelayAction and a packet cache, when no C
    compiler is there (or `kind="dnsdist"`): ~35 us per answer at 17,000 a second but ~90 us at
    the 3,500 a second a batch run asks (a thread woken per packet), a quarter of a core;
  * else bench/delay_relay.py (Python, a few thousand a second at most, and it takes CPU from
    what is measured), and the benchmark says so.
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


FRONTS = ("auto", "c", "dnsdist", "python")


def start(
    upstream: int, delay_ms: float, workdir: Path, port: int, kind: str = "auto"
) -> DelayedServer:
    """The front on `port` before Knot on `upstream`: the C relay where it compiles, else
    dnsdist if installed, else the Python relay (`kind` picks one)."""
    binary, problem = _compiled(workdir) if kind in ("auto", "c") else (None, "")
    if binary is not None:
        command = [str(binary), str(port), str(upstream), str(delay_ms)]
        return _start_relay(command, port, "C relay (bench/delay_relay.c)")
    if kind == "c":
        raise RuntimeError(f"bench/delay_relay.c cannot be built: {problem}")
    if problem:
        print(f"bench/delay_relay.c cannot be built ({problem}): another front stands in",
              file=sys.stderr)  # fmt: skip
    if kind in ("auto", "dnsdist") and shutil.which("dnsdist"):
        return _start_dnsdist(upstream, delay_ms, workdir, port)
    if kind == "dnsdist":
        raise RuntimeError("dnsdist is not installed (apt-get install dnsdist)")
    command = [sys.executable, str(BENCH / "delay_relay.py"), str(port), str(upstream),
               str(delay_ms)]  # fmt: skip
    return _start_relay(command, port, "Python relay (no C compiler, no dnsdist)")


def _compiled(workdir: Path) -> tuple[Path | None, str]:
    """bench/delay_relay.c built into `workdir`, or None and why not."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None, "no C compiler (cc)"
    binary = workdir / "delay_relay"
    source = BENCH / "delay_relay.c"
    build = subprocess.run([compiler, "-O2", "-pthread", "-o", str(binary), str(source)],
                           capture_output=True, text=True)  # fmt: skip
    return (binary, "") if build.returncode == 0 else (None, build.stderr.strip()[-500:])


def _start_relay(command: list[str], port: int, kind: str) -> DelayedServer:
    relay = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert relay.stdout is not None and relay.stderr is not None
    if not relay.stdout.readline().startswith("ready"):
        relay.kill()
        raise RuntimeError(f"{kind} did not start: {relay.stderr.read().strip()[-500:]}")
    return DelayedServer(port, kind, relay)


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
