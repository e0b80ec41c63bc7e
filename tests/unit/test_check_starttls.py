"""The starttls check's judgement, with the probe replaced by canned results (no network).

The real probes against Postfix and odd servers are in tests/integration/test_starttls.py.
"""

from __future__ import annotations

import pytest

from audit.checks import smtp_tls
from audit.checks.domain import starttls
from audit.model import Status
from audit.net.smtp import NO_STARTTLS, NOT_PUBLIC, NOT_TESTABLE, SmtpProbe
from tests.conftest import pairs


@pytest.fixture
def canned(monkeypatch):
    """canned({address: (status, stage, reason)}) makes every probe of that address say so."""
    calls: list[tuple[str, str, int]] = []

    def install(outcomes: dict[str, tuple[str, str, str]]) -> list[tuple[str, str, int]]:
        async def fake(
            host, address, port, *, timeout, ca_file, helo="audit.invalid", allow_private=False
        ):
            calls.append((host, address, port))
            status, stage, reason = outcomes[address]
            return SmtpProbe(host, address, port, status=status, stage=stage, reason=reason)

        monkeypatch.setattr(smtp_tls, "probe_starttls", fake)
        return calls

    return install


def test_probes_off_skip_with_no_findings(run_domain_check):
    result = run_domain_check(starttls.check, "clean.test", probes=False)
    assert result.status is Status.SKIPPED
    assert result.findings == []
    assert result.facts["starttls"]["probed"] is False


def test_every_address_of_every_mx_is_probed(run_domain_check, canned):
    calls = canned(
        {
            "192.0.2.10": (NO_STARTTLS, "ehlo", "STARTTLS not in the EHLO extensions"),
            "192.0.2.11": (NOT_TESTABLE, "banner", "banner 421 busy"),
            "2001:db8::11": (NOT_TESTABLE, "connect", "connection refused"),
        }
    )
    result = run_domain_check(starttls.check, "clean.test", probes=True, smtp_port=2525)
    assert sorted(calls) == [
        ("mx1.clean.test", "192.0.2.10", 2525),
        ("mx2.clean.test", "192.0.2.11", 2525),
        ("mx2.clean.test", "2001:db8::11", 2525),
    ]
    assert pairs(result) == {("TLS301", "mx1.clean.test"), ("TLS307", "mx2.clean.test")}
    messages = sorted(f.message for f in result.findings if f.rule.id == "TLS307")
    assert "192.0.2.11" in messages[0] and "banner 421" in messages[0]
    assert "2001:db8::11" in messages[1] and "connection refused" in messages[1]
    # mx2 had no testable address: no verdict on its TLS, so the check is inconclusive
    assert result.status is Status.INCONCLUSIVE
    assert result.error == "not testable: mx2.clean.test"


def test_all_unreachable_adds_one_port_blocked_note(run_domain_check, canned):
    canned({a: (NOT_TESTABLE, "connect", "timed out after 5s connecting") for a in ADDRESSES})
    result = run_domain_check(starttls.check, "clean.test", probes=True)
    assert pairs(result) == {
        ("TLS307", "mx1.clean.test"),
        ("TLS307", "mx2.clean.test"),
        ("TLS307", "clean.test"),
    }
    notes = [f for f in result.findings if f.target == "clean.test"]
    assert len(notes) == 1 and "port 25 may be blocked" in notes[0].message
    assert not any(f.rule.temperror for f in result.findings)
    assert result.status is Status.INCONCLUSIVE


def test_all_421_is_not_called_a_blocked_port(run_domain_check, canned):
    canned({a: (NOT_TESTABLE, "banner", "banner 421 busy") for a in ADDRESSES})
    result = run_domain_check(starttls.check, "clean.test", probes=True)
    assert ("TLS307", "clean.test") not in pairs(result)


ADDRESSES = ("192.0.2.10", "192.0.2.11", "2001:db8::11")


def test_unknown_mx_addresses_are_inconclusive_not_clean() -> None:
    """The MX host's A/AAAA lookups time out: DNS001 and inconclusive, never a clean pass."""
    import asyncio

    from audit.checks.common import DomainContext
    from audit.net.dns import Resolver, memory_backend

    backend = memory_backend({"t.test": [("MX", "10 mx.t.test.")], "mx.t.test": [("TIMEOUT", "")]})
    ctx = DomainContext("t.test", Resolver(backend), probes=True)
    result = asyncio.run(starttls.check(ctx))
    assert pairs(result) == {("DNS001", "mx.t.test")}
    assert result.status is Status.INCONCLUSIVE
    assert result.error == "not testable: mx.t.test"


def test_a_non_public_address_is_net301_and_the_host_judged_on_the_others(run_domain_check, canned):
    refused = "refused to connect to 2001:db8::11: not a public address (documentation)"
    canned(
        {
            "192.0.2.10": (NO_STARTTLS, "ehlo", "STARTTLS not in the EHLO extensions"),
            "192.0.2.11": (NO_STARTTLS, "ehlo", "STARTTLS not in the EHLO extensions"),
            "2001:db8::11": (NOT_PUBLIC, "connect", refused),
        }
    )
    result = run_domain_check(starttls.check, "clean.test", probes=True)
    assert pairs(result) == {
        ("TLS301", "mx1.clean.test"),
        ("TLS301", "mx2.clean.test"),
        ("NET301", "mx2.clean.test"),
    }
    [net] = [f for f in result.findings if f.rule.id == "NET301"]
    assert net.message.startswith("refused to connect to 2001:db8::11: not a public address")
    assert "judged on its other addresses" in net.message
    assert net.evidence == ["mx2.clean.test -> 2001:db8::11: documentation (RFC 3849)"]
    # mx2 was tested on 192.0.2.11: a verdict was reached; no "port 25 blocked" note
    assert result.status is Status.COMPLETED


def test_only_non_public_addresses_leave_the_check_inconclusive(run_domain_check, canned):
    canned({a: (NOT_PUBLIC, "connect", f"refused to connect to {a}") for a in ADDRESSES})
    result = run_domain_check(starttls.check, "clean.test", probes=True)
    assert pairs(result) == {("NET301", "mx1.clean.test"), ("NET301", "mx2.clean.test")}
    assert result.status is Status.INCONCLUSIVE
    assert result.error == "not testable: mx1.clean.test, mx2.clean.test"
    mx2 = next(f for f in result.findings if f.target == "mx2.clean.test")
    assert "(and 1 more)" in mx2.message and "so it was not tested" in mx2.message


def test_the_guard_setting_reaches_the_probe(run_domain_check, monkeypatch):
    seen: list[bool] = []

    async def fake(host, address, port, *, timeout, ca_file, helo="x", allow_private=False):
        seen.append(allow_private)
        return SmtpProbe(host, address, port, status=NOT_TESTABLE, stage="connect", reason="x")

    monkeypatch.setattr(smtp_tls, "probe_starttls", fake)
    run_domain_check(starttls.check, "clean.test", probes=True)
    run_domain_check(starttls.check, "clean.test", probes=True, allow_private_addresses=True)
    assert seen == [False] * 3 + [True] * 3
