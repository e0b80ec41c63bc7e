"""The ARC validation test vectors (ValiMail arc_test_suite, arc-draft-validation-tests.yml,
MIT licence in fixtures/conformance/arc/LICENSE.txt) through `arc_verdict`.

Each test's keys (`txt-records`) are served by an in-memory backend through the resolver
layer, so the suite exercises the same prefetch and dnsfunc adapter as a real run.

The suite predates RFC 8617: where a seal already recorded cv=fail it expects no result
(an empty cv, "the chain is terminated"). RFC 8617 5.2 step 3 makes that cv=fail, which is
what `arc_verdict` reports; the mapping below says so.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import yaml

from audit.checks.message.arc import arc_verdict
from audit.message.load import RawMessage
from audit.message_audit import make_context
from audit.net.dns import Resolver, memory_backend
from tests.conftest import FIXTURES

SUITE = FIXTURES / "conformance" / "arc" / "arc-draft-validation-tests.yml"
NOW = datetime(2017, 6, 1, tzinfo=UTC)  # the suite's era; its seals carry t=12345
EXPECTED = {"pass": "pass", "fail": "fail", "none": "none", "": "fail"}


def txt_rdata(value: str) -> str:
    """A TXT record's text form: quoted character-strings of at most 255 octets."""
    data = value.encode()
    chunks = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
    quoted = []
    for chunk in chunks:
        text = chunk.decode().replace("\\", "\\\\").replace('"', '\\"')
        quoted.append(f'"{text}"')
    return " ".join(quoted)


def load_cases() -> list:
    cases = []
    for doc in yaml.safe_load_all(SUITE.read_text(encoding="utf-8")):
        if not doc:
            continue
        records = {name: [("TXT", txt_rdata(str(v)))] for name, v in doc["txt-records"].items()}
        for name, test in doc["tests"].items():
            expected = EXPECTED[str(test["cv"]).strip().lower()]
            cases.append(
                pytest.param(
                    test["message"].encode(),
                    records,
                    expected,
                    id=f"{doc['description']}::{name}".replace(" ", "-"),
                )
            )
    return cases


CASES = load_cases()


def test_suite_is_complete():
    assert len(CASES) == 171


@pytest.mark.parametrize("raw, records, expected", CASES)
def test_arc_validation_vector(raw, records, expected):
    ctx = make_context(RawMessage("arc.eml", raw), Resolver(memory_backend(records)), now=NOW)
    verdict = asyncio.run(arc_verdict(ctx))
    assert verdict.cv == expected, verdict.reason
    assert verdict.temperror is False
