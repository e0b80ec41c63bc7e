"""A missing test server is a skip on a laptop and a failure in CI (integration tests never skip
there): one place that decides, for every fixture that needs an installed server."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def skip_or_fail(message: str) -> None:
    """Ends the test: failed when CI is set, skipped otherwise."""
    if in_ci():
        pytest.fail(f"{message} (CI is set: integration tests must run, not skip)")
    pytest.skip(message)
