"""Start and stop the loopback test servers from Python: Knot DNS and the DNS proxy.

Thin wrappers over start_knot.sh / stop_knot.sh / dns_proxy.py (the same scripts one runs by
hand, see README.md), used by the pytest session fixtures and by benchmarks.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

try:  # as part of the tests package, or run from this directory
    from tests.infra.netutil import IPV4_LOOPBACK, PORT_TAKEN_EXIT, free_port
except ImportError:  # pragma: no cover
    from netutil import IPV4_LOOPBACK, PORT_TAKEN_EXIT, free_port  # type: ignore[no-redef]

INFRA = Path(__file__).resolve().parent


class ServerError(RuntimeError):
    """A test server did not start; the message carries its output/log."""


class Endpoint(str):
    """A DNS server on loopback: the string "127.0.0.1:PORT" (what --dns-server takes), with
    `host`, `port` and the same text as `dns_server` / `address`."""

    host: str
    port: int

    def __new__(cls, host: str, port: int) -> Endpoint:
        self = super().__new__(cls, f"{host}:{port}")
        self.host, self.port = host, port
        return self

    @property
    def dns_server(self) -> str:
        return str(self)

    address = dns_server


def knot_installed() -> bool:
    return all(shutil.which(t) or Path("/usr/sbin", t).exists() for t in ("knotd", "kdig"))


def outside_names() -> list[str]:
    """Names every domain audit asks beyond a scenario's own zones (the default blocklists):
    start_knot.sh serves their top-level domains as empty zones, so they get NXDOMAIN, as from
    the real DNS, not Knot's REFUSED (which the tool rightly reads as unknown)."""
    from audit.checks.domain.dnsbl import DEFAULT_DOMAIN_ZONES, DEFAULT_IP_ZONES

    return [*DEFAULT_IP_ZONES, *DEFAULT_DOMAIN_ZONES]


class KnotServer(Endpoint):
    """Knot DNS serving every *.zone of a directory; `stop()` waits until knotd has exited."""

    run_dir: Path
    zone_dir: Path

    @classmethod
    def start(
        cls, run_dir: Path, zone_dir: Path, port: int | None = None, timeout: float = 60
    ) -> KnotServer:
        """On `port`, or on a free one: knotd takes its port from its config, so a port another
        server took between the choice and knotd's bind (start_knot.sh exits 3) means trying
        again on another."""
        env = {
            **os.environ,
            "KNOT_OWNER_PID": str(os.getpid()),
            "KNOT_PARENTS": " ".join(outside_names()),
        }
        for attempt in range(1, 6):
            chosen = port or free_port()
            proc = subprocess.run(
                ["bash", str(INFRA / "start_knot.sh"), str(run_dir), str(zone_dir), str(chosen)],
                capture_output=True,
                text=True,
                timeout=timeout,
                env=env,
            )
            if proc.returncode != PORT_TAKEN_EXIT or port or attempt == 5:
                break
        if proc.returncode != 0:
            raise ServerError(f"Knot DNS did not start:\n{proc.stderr}{proc.stdout}")
        server = cls(IPV4_LOOPBACK, chosen)
        server.run_dir, server.zone_dir = Path(run_dir), Path(zone_dir)
        return server

    @property
    def pid(self) -> int | None:
        try:
            return int((self.run_dir / "knot.pid").read_text())
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        proc = subprocess.run(
            ["bash", str(INFRA / "stop_knot.sh"), str(self.run_dir)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if proc.returncode != 0:
            raise ServerError(f"Knot DNS did not stop:\n{proc.stderr}")


class DnsProxy(Endpoint):
    """dns_proxy.py in front of an upstream port: drops (`drop=True`) or delays every query, or
    breaks the answers (`fault=`: servfail, refused, truncate, wrong-id, wrong-question,
    garbage, drop), for every name or only the names in `only`."""

    process: subprocess.Popen[str]

    @classmethod
    def start(
        cls,
        upstream_port: int,
        *,
        drop: bool = False,
        delay_ms: float = 0,
        fault: str | None = None,
        only: tuple[str, ...] = (),
        timeout: float = 10,
    ) -> DnsProxy:
        command = [sys.executable, str(INFRA / "dns_proxy.py"), "0", str(upstream_port)]
        command += ["--drop"] if drop else ["--delay-ms", f"{delay_ms:g}"]
        command += ["--fault", fault] if fault else []
        command += [arg for name in only for arg in ("--only", name)]
        command += ["--exit-with-parent"]
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], timeout)
        line = process.stdout.readline() if ready else ""
        if not line.startswith("ready"):
            process.kill()
            _, err = process.communicate(timeout=10)
            raise ServerError(f"dns_proxy.py did not start: {line!r}\n{err}")
        # "ready 127.0.0.1:PORT -> ...": the port the kernel gave it (it binds port 0)
        port = int(line.split()[1].rsplit(":", 1)[1])
        proxy = cls(IPV4_LOOPBACK, port)
        proxy.process = process
        return proxy

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def wait_gone(pid: int, timeout: float = 10) -> bool:
    """Whether process `pid` has exited (or is a zombie) within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return True
        if "zombie" in state:
            return True
        time.sleep(0.05)
    return False
