"""The shared verdict prediction (audit.facts.prediction), read from the one case table that
the message audit and the domain sending-path evaluation are held to as well."""

from __future__ import annotations

import pytest

from audit.facts.prediction import (
    DkimOutcome,
    SpfOutcome,
    aligned,
    gmail_display,
    predict_dmarc,
)
from audit.records.dmarc import parse_dmarc
from tests.unit.prediction_cases import CASES, ORG, Case


def predicted(case: Case):
    record = parse_dmarc(case.dmarc) if case.dmarc else None
    spf = SpfOutcome(case.spf, case.envelope_domain)
    dkim = [DkimOutcome(result, case.d(who)) for result, who in case.dkim]
    dmarc = predict_dmarc(case.from_domain, record, ORG if record else None, spf, dkim)
    return dmarc, gmail_display(case.from_domain, spf, dkim)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_shared_prediction(case: Case):
    dmarc, gmail = predicted(case)
    assert (dmarc.result, dmarc.disposition) == (case.result, case.disposition)
    assert (gmail.mailed_by, gmail.signed_by, gmail.via) == (
        case.mailed_by,
        case.signed_by,
        case.via,
    )


def test_alignment_modes_use_the_public_suffix_list():
    assert aligned("bounces.example.co.uk", "example.co.uk", "r")
    assert not aligned("bounces.example.co.uk", "example.co.uk", "s")
    assert not aligned("other.co.uk", "example.co.uk", "r")  # co.uk is a public suffix
    assert aligned("EXAMPLE.co.uk.", "example.co.uk", "s")
    assert not aligned(None, "example.co.uk", "r")


def test_fail_notes_pct_and_testing_flag():
    # Changed in issue 11: verdicts follow RFC 9989's reading of a record (it obsoletes RFC
    # 7489), and RFC 9989 4.7 t=y: "if the policy is "reject" and the value of the "t" tag is
    # "y", a policy of "quarantine" will be applied to failing messages". The policy asked
    # stays reject; the disposition is quarantine; RFC 7489's reading is the note.
    record = parse_dmarc("v=DMARC1; p=reject; pct=20; t=y")
    dmarc = predict_dmarc("x.test", record, "x.test", SpfOutcome("fail", "x.test"), [])
    assert dmarc.result == "fail" and dmarc.policy == "reject"
    assert dmarc.disposition == "quarantine"
    assert dmarc.notes == [
        "t=y: RFC 9989 receivers apply quarantine; RFC 7489 receivers ignore t and apply reject",
        "pct=20: RFC 7489 receivers apply reject to 20% of mail; RFC 9989 receivers ignore pct",
    ]
    assert dmarc.reason == "no DKIM signature; SPF fail"
