"""The DMARC check against the fixture zones: each rule on its scenario, silent on near misses."""

import asyncio

import pytest

from audit.checks.domain import dmarc
from audit.model import Severity, Status
from audit.net.dns import memory_backend
from tests.conftest import pairs


def test_clean_domain_has_no_findings(run_domain_check):
    result = run_domain_check(dmarc.check, "clean.test")
    assert result.findings == []
    assert result.facts["dmarc"]["parsed"]["p"] == "reject"
    assert result.facts["dmarc"]["policy_domain"] == "clean.test"


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("dmarc-missing.test", {("DMARC001", "dmarc-missing.test")}),
        ("dmarc-multiple.test", {("DMARC002", "dmarc-multiple.test")}),
        # p=rejected with a valid rua=: RFC 7489 6.6.3 step 6.1 and RFC 9989 4.10.1 "If a
        # retrieved DMARC Policy Record does not contain a valid "p" tag ... If a "rua" tag is
        # present and contains at least one syntactically valid reporting URI, the Mail
        # Receiver MUST act as if a record containing "p=none" was retrieved": so the policy
        # does not enforce (DMARC101) besides being broken (DMARC003). (Changed in issue 11:
        # this scenario used to assert DMARC003 alone.)
        (
            "dmarc-syntax.test",
            {("DMARC003", "dmarc-syntax.test"), ("DMARC101", "dmarc-syntax.test")},
        ),
        ("dmarc-none.test", {("DMARC101", "dmarc-none.test")}),
        ("dmarc-pct.test", {("DMARC102", "dmarc-pct.test")}),
        ("dmarc-norua.test", {("DMARC103", "dmarc-norua.test")}),
        ("dmarc-sp-none.test", {("DMARC104", "dmarc-sp-none.test")}),
        ("dmarc-external-rua.test", {("DMARC201", "dmarc-external-rua.test")}),
        ("dmarc-external-ok.test", set()),
        ("sub.clean.test", {("DMARC004", "sub.clean.test")}),
    ],
)
def test_rule_fires_on_its_scenario_only(run_domain_check, domain, expected):
    assert pairs(run_domain_check(dmarc.check, domain)) == expected


def test_pct_message_names_the_value(run_domain_check):
    (finding,) = run_domain_check(dmarc.check, "dmarc-pct.test").findings
    assert "pct=25" in finding.message
    assert finding.fix.endswith(
        '"v=DMARC1; p=quarantine; rua=mailto:dmarc@dmarc-pct.test" (pct removed).'
    )


def test_policy_none_fix_is_the_next_record(run_domain_check):
    (finding,) = run_domain_check(dmarc.check, "dmarc-none.test").findings
    assert "v=DMARC1; p=quarantine; rua=mailto:dmarc@dmarc-none.test" in finding.fix


def test_inherited_policy_is_the_subdomain_policy(run_domain_check):
    result = run_domain_check(dmarc.check, "sub.clean.test")
    assert result.facts["dmarc"]["inherited"] is True
    assert result.facts["dmarc"]["effective_policy"] == "reject"
    assert result.facts["rfc7489_policy_domain"] == "clean.test"


def test_missing_p_without_rua_is_not_applied_by_either_rfc(run_domain_check):
    # "v=DMARC1; sp=reject". Changed in issue 11: this test asserted DMARC005 (an RFC 9989
    # reading of p=none) and that reading was wrong. RFC 9989 4.10.1: "If a retrieved DMARC
    # Policy Record does not contain a valid "p" tag ... Otherwise [no valid rua], the Mail
    # Receiver applies no DMARC processing to this message", as RFC 7489 6.6.3 step 6.2 says.
    # Both readings agree, so there is no difference to report.
    result = run_domain_check(dmarc.check, "dmarc-nop.test")
    assert ("DMARC005", "dmarc-nop.test") not in pairs(result)
    assert ("DMARC003", "dmarc-nop.test") in pairs(result)
    assert result.facts["dmarc"]["applies"] is False
    assert result.facts["dmarc"]["effective_policy"] is None
    syntax = next(f for f in result.findings if f.rule.id == "DMARC003")
    assert "no DMARC processing" in syntax.message


def _run(records, domain):
    import asyncio

    from audit.checks.common import DomainContext
    from audit.net.dns import Resolver

    return asyncio.run(dmarc.check(DomainContext(domain, Resolver(memory_backend(records)))))


def test_timeout_is_inconclusive_not_missing():
    result = _run({"_dmarc.example.com": [("TIMEOUT", "")]}, "example.com")
    assert result.status is Status.INCONCLUSIVE
    assert pairs(result) == {("DNS001", "example.com")}
    assert "TIMEOUT" in result.findings[0].message


def test_org_domain_servfail_blocks_verdict_for_subdomain():
    result = _run({"_dmarc.example.com": [("SERVFAIL", "")]}, "mail.example.com")
    assert result.status is Status.INCONCLUSIVE
    assert "DMARC001" not in {f.rule.id for f in result.findings}


def test_rfc9989_tree_walk_finds_intermediate_record():
    # a.b.example.com: RFC 7489 jumps to example.com (none there); RFC 9989 finds b.example.com.
    result = _run(
        {"_dmarc.b.example.com": [("TXT", '"v=DMARC1; p=reject; rua=mailto:d@example.com"')]},
        "a.b.example.com",
    )
    assert result.facts["rfc7489_policy_domain"] is None
    assert result.facts["rfc9989_policy_domain"] == "b.example.com"
    assert ("DMARC005", "a.b.example.com") in pairs(result)
    assert "DMARC001" not in {f.rule.id for f in result.findings}


def test_unauthorized_destination_severity(run_domain_check):
    result = run_domain_check(dmarc.check, "dmarc-external-rua.test")
    assert result.findings[0].effective_severity is Severity.MEDIUM


def _discover(records, domain):
    from audit.facts.dmarc_policy import discover_policy
    from audit.net.dns import Resolver

    return asyncio.run(discover_policy(Resolver(memory_backend(records)), domain))


def test_rfc9989_walk_takes_the_record_with_fewest_labels():
    found = _discover(
        {
            "_dmarc.mail.example.com": [("TXT", '"v=DMARC1; p=none"')],
            "_dmarc.example.com": [("TXT", '"v=DMARC1; p=reject"')],
        },
        "a.mail.example.com",
    )
    assert found.rfc9989_at == "example.com"
    assert found.rfc7489_at == "example.com"


def test_rfc9989_psd_n_marks_the_organizational_domain():
    found = _discover(
        {
            "_dmarc.mail.example.com": [("TXT", '"v=DMARC1; p=reject; psd=n"')],
            "_dmarc.example.com": [("TXT", '"v=DMARC1; p=none"')],
        },
        "a.mail.example.com",
    )
    assert found.rfc9989_at == "mail.example.com"


def test_rfc9989_psd_y_applies_below_a_public_suffix_domain():
    psd = {"_dmarc.bank": [("TXT", '"v=DMARC1; p=reject; psd=y"')]}
    assert _discover(psd, "x.corp.bank").rfc9989_at == "bank"
    own = {**psd, "_dmarc.corp.bank": [("TXT", '"v=DMARC1; p=quarantine"')]}
    assert _discover(own, "x.corp.bank").rfc9989_at == "corp.bank"


def test_failed_lookup_at_a_public_suffix_does_not_block_the_verdict():
    result = _run({"_dmarc.com": [("TIMEOUT", "")]}, "example.com")
    assert pairs(result) == {("DMARC001", "example.com")}


def test_lower_case_version_is_not_a_dmarc_record():
    result = _run({"_dmarc.example.com": [("TXT", '"v=dmarc1; p=reject"')]}, "example.com")
    assert pairs(result) == {("DMARC001", "example.com")}


def test_inherited_sp_none_fix_changes_sp():
    result = _run(
        {
            "_dmarc.example.com": [
                ("TXT", '"v=DMARC1; p=reject; sp=none; rua=mailto:d@example.com"')
            ]
        },
        "news.example.com",
    )
    finding = next(f for f in result.findings if f.rule.id == "DMARC101")
    assert "sp=quarantine" in finding.fix and "sp=none" not in finding.fix


# Issue 11: fixture-zone scenarios for the DMARC readings (the table in dmarc_reading_cases.py
# covers each class through both audits; these are the same classes as zones Knot serves).
@pytest.mark.parametrize(
    ("domain", "expected", "policy"),
    [
        # RFC 7489 6.3 p= after rua=: an RFC 7489 error (DMARC003) and a difference (DMARC005);
        # RFC 9989 4.7 reads p=reject, which the verdict follows: no DMARC101
        ("dmarc-order.test", {"DMARC003", "DMARC005"}, "reject"),
        # RFC 7489 6.4: "rua=mailto:...!" has no valid URI; with p= missing, RFC 9989 4.10.1:
        # "the Mail Receiver applies no DMARC processing"
        ("dmarc-bang.test", {"DMARC003", "DMARC103"}, None),
        # np= does not apply to the policy domain itself (RFC 9989 4.10.1: "taken from the p tag")
        ("dmarc-np.test", {"DMARC005", "DMARC104"}, "reject"),
        # RFC 9989 4.7 np: "It applies only to non-existent subdomains"; www has an A record
        ("www.dmarc-np.test", {"DMARC004", "DMARC101"}, "none"),
        # NXDOMAIN: np=reject (RFC 9989 3.2.13, RFC 9091 2.7 agree)
        ("ghost.dmarc-np.test", {"DMARC004"}, "reject"),
        # NODATA for A/AAAA/MX: exists for RFC 9989, not for RFC 9091: sp=none, DMARC005 says so
        ("txt.dmarc-np.test", {"DMARC004", "DMARC005", "DMARC101"}, "none"),
        # several records at the subdomain's own name: RFC 7489 6.6.3 step 5, no DMARC
        ("mail.dmarc-multiple-sub.test", {"DMARC002", "DMARC005"}, None),
    ],
)
def test_reading_scenarios(run_domain_check, domain, expected, policy):
    result = run_domain_check(dmarc.check, domain)
    assert {f.rule.id for f in result.findings if f.target == domain} == expected
    assert result.facts["dmarc"]["effective_policy"] == policy


def test_np_scenario_records_the_existence_answers(run_domain_check):
    facts = run_domain_check(dmarc.check, "txt.dmarc-np.test").facts["dmarc"]
    assert facts["author_exists"] == {
        "queries": {"A": "NODATA", "AAAA": "NODATA", "MX": "NODATA"},
        "exists_rfc9989": True,
        "exists_rfc9091": False,
    }
    assert facts["readings"] == {
        "rfc7489": "apply np=reject (txt.dmarc-np.test does not exist)",
        "rfc9989": "apply sp=none",
    }


def test_an_error_only_rfc7489_sees_is_medium_and_the_fix_reorders(run_domain_check):
    # RFC 9989 4.7 reads "v=DMARC1; rua=...; p=reject" as p=reject (the verdict's reading), so
    # the RFC 7489 6.3 error is worth fixing but changes nothing there: medium, not high.
    (syntax,) = [
        f for f in run_domain_check(dmarc.check, "dmarc-order.test").findings
        if f.rule.id == "DMARC003"
    ]
    assert syntax.effective_severity is Severity.MEDIUM
    assert syntax.fix == (
        'Publish a corrected record, e.g. "v=DMARC1; p=reject; rua=mailto:dmarc@dmarc-order.test"'
    )
    # near miss: p=rejected breaks the policy for both RFCs: high
    (broken,) = [
        f for f in run_domain_check(dmarc.check, "dmarc-syntax.test").findings
        if f.rule.id == "DMARC003"
    ]
    assert broken.effective_severity is Severity.HIGH
    assert "(RFC 7489 and RFC 9989: p=rejected is not valid; rua= holds a valid URI" in (
        broken.message
    )
