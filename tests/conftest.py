"""Shared test fixtures: the fixture zones loaded once, and a way to run one domain check."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from audit.checks.common import DomainContext
from audit.model import CheckResult
from audit.net.dns import Resolver, StaticBackend, StaticData, load_zone_dir

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
ZONES = FIXTURES / "zones"


def pytest_configure(config: pytest.Config) -> None:
    """Every `audit domain`/`message`/`check` run records itself in the run history: in tests
    (and the CLI subprocesses they start, which inherit the environment) that is a temporary
    folder, never the real ~/.local/state."""
    state = tempfile.mkdtemp(prefix="audit-test-state-")
    os.environ["AUDIT_STATE_DIR"] = state
    config.add_cleanup(lambda: shutil.rmtree(state, ignore_errors=True))


@pytest.fixture(scope="session")
def zone_data() -> StaticData:
    return load_zone_dir(ZONES)


@pytest.fixture
def run_domain_check(zone_data: StaticData) -> Callable[..., CheckResult]:
    """run_domain_check(check_fn, "clean.test", **ctx_options) against the fixture zones."""

    def run(check, domain: str, **options) -> CheckResult:
        ctx = DomainContext(domain, Resolver(StaticBackend(zone_data)), **options)
        return asyncio.run(check(ctx))

    return run


def pairs(result: CheckResult) -> set[tuple[str, str]]:
    """(rule id, target) pairs: what tests assert on."""
    return {(f.rule.id, f.target) for f in result.findings}
