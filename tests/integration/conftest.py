"""Session fixtures for the real servers on loopback: Knot DNS serving fixtures/zones/, and a
DNS proxy that drops every query (timeouts). Started from the scripts in tests/infra/.

Under CI (env CI set) a missing server is a failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, ZONES

INFRA = ROOT / "tests" / "infra"


def pytest_collection_modifyitems(items):
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port on 127.0.0.1")


def _require(tool: str) -> None:
    if shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists():
        return
    message = f"{tool} is not installed: run tests/infra/install.sh (or scripts/test.sh)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass(frozen=True)
class DnsServer:
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@pytest.fixture(scope="session")
def knot_server(tmp_path_factory) -> Iterator[DnsServer]:
    _require("knotd")
    _require("kdig")
    run_dir = tmp_path_factory.mktemp("knot")
    port = free_port()
    started = subprocess.run(
        ["bash", str(INFRA / "start_knot.sh"), str(run_dir), str(ZONES), str(port)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if started.returncode != 0:
        pytest.fail(f"Knot DNS did not start:\n{started.stdout}\n{started.stderr}")
    try:
        yield DnsServer("127.0.0.1", port)
    finally:
        subprocess.run(["bash", str(INFRA / "stop_knot.sh"), str(run_dir)], timeout=30)


@pytest.fixture(scope="session")
def drop_proxy(knot_server: DnsServer) -> Iterator[DnsServer]:
    """A DNS server address that never answers."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(INFRA / "dns_proxy.py"), str(port), str(knot_server.port), "--drop"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("ready"):
            pytest.fail(f"dns_proxy did not start: {line!r}")
        yield DnsServer("127.0.0.1", port)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
