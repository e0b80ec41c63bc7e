"""Issue 11, classes 5 and 7: the MTA-STS (RFC 8461 3.1, 3.2), TLS-RPT (RFC 8460 3) and BIMI
(draft-brand-indicators-for-message-identification-10 4.3) record grammars, one table per
grammar, each case naming the section its verdict comes from. Inputs are our own."""

import pytest

from audit.checks.domain import bimi, mta_sts, tlsrpt
from audit.records.bimi import BIMI_DRAFT, parse_bimi
from audit.records.mta_sts import parse_sts_record
from audit.records.mta_sts_policy import parse_policy
from audit.records.tlsrpt import parse_tlsrpt
from tests.conftest import pairs

NAME_32 = "abcdefghijklmnopqrstuvwxyz012345"  # the longest sts-ext-name / tlsrpt-ext-name
NAME_33 = NAME_32 + "6"

# RFC 8461 3.1:
#   sts-extension = sts-ext-name "=" sts-ext-value
#   sts-ext-name  = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
#   sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E)  ; chars excluding "=", ";", SP, and CTLs
#   "If ... the resulting record is syntactically invalid, senders MUST assume the recipient
#    domain does not have an available MTA-STS Policy."
STS_RECORDS = [
    ("3.1 sts-ext-name: 32 characters", f"v=STSv1; id=1; {NAME_32}=x", None),
    ("3.1 sts-ext-name: 33 characters", f"v=STSv1; id=1; {NAME_33}=x", "field name"),
    ("3.1 sts-ext-name: starts with ALPHA / DIGIT", "v=STSv1; id=1; _x=1", "field name"),
    ("3.1 sts-ext-value: 1*(...), not empty", "v=STSv1; id=1; ext=", "has an empty value"),
    ("3.1 sts-ext-value: excludes '='", "v=STSv1; id=1; ext==", "has a value with '='"),
    ("3.1 sts-ext-value: excludes '='", "v=STSv1; id=1; ext=a=b", "has a value with '='"),
    ("3.1 sts-ext-value: excludes SP", "v=STSv1; id=1; ext=a b", "has a value with '='"),
    ("3.1 sts-sep = *WSP %x3B *WSP", "v=STSv1 ;  id=20261125T000000 ; ext=y ;", None),
    ("3.1 sts-id = %s\"id=\" 1*32(ALPHA / DIGIT)", "v=STSv1; id=1-2", "must be 1-32"),
    ("3.1 MUST begin with the sts-version field", "id=1; v=STSv1", "must start with v=STSv1"),
]


def judged(section: str, errors: list[str], error: str | None) -> None:
    """No errors when the case expects none, else one that contains `error`."""
    if error is None:
        assert errors == [], (section, errors)
    else:
        assert any(error in e for e in errors), (section, errors)


@pytest.mark.parametrize(("section", "txt", "error"), STS_RECORDS)
def test_mta_sts_record_grammar(section, txt, error):
    judged(section, parse_sts_record(txt).errors, error)


# RFC 8460 3:
#   tlsrpt-rua        = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
#   tlsrpt-uri        = URI  ; commas, exclamation points, and semicolons MUST be encoded
#   tlsrpt-extension  = tlsrpt-ext-name "=" tlsrpt-ext-value
#   tlsrpt-ext-name   = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
#   tlsrpt-ext-value  = 1*(%x21-3A / %x3C / %x3E-7E)
RUA = "rua=mailto:tls@example.com"
TLSRPT_RECORDS = [
    ("3 tlsrpt-ext-name: 32 characters", f"v=TLSRPTv1; {RUA}; {NAME_32}=1", None),
    ("3 tlsrpt-ext-name: 33 characters", f"v=TLSRPTv1; {RUA}; {NAME_33}=1", "field name"),
    ("3 tlsrpt-ext-value: not empty", f"v=TLSRPTv1; {RUA}; x=", "has an empty value"),
    ("3 tlsrpt-ext-value: excludes '='", f"v=TLSRPTv1; {RUA}; x==", "has a value with '='"),
    ("3 tlsrpt-uri is a URI: no text after it", f"v=TLSRPTv1; {RUA} weekly", "is not a URI"),
    ("3 tlsrpt-uri: '!' MUST be encoded", f"v=TLSRPTv1; {RUA}!10m", "is not a URI"),
    ("3 *WSP \",\" *WSP between URIs", f"v=TLSRPTv1; {RUA} , https://r.example/x", None),
    ("3 field-delim; a trailing one", f"v=TLSRPTv1 ; {RUA} ;", None),
    ("3 tlsrpt-rua is required", "v=TLSRPTv1; x=1", "rua= (where reports go) is missing"),
]


@pytest.mark.parametrize(("section", "txt", "error"), TLSRPT_RECORDS)
def test_tlsrpt_record_grammar(section, txt, error):
    judged(section, parse_tlsrpt(txt).errors, error)


GOOD_POLICY = "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmax_age: 604800\n"


@pytest.mark.parametrize(
    ("section", "extra", "error"),
    [
        # RFC 8461 3.2: sts-policy-ext-value = sts-policy-vchar [*(%x20 / sts-policy-vchar)
        # sts-policy-vchar]: one or more characters.
        ("3.2 sts-policy-ext-value: not empty", "x_note:\n", "extension 'x_note' has an empty"),
        ("3.2 sts-policy-ext-value: WSP is not a vchar", "x_note:  \n", "has an empty value"),
        ("3.2 sts-policy-ext-value: inner SP allowed", "x_note: a b\n", None),
        ("3.2 sts-policy-ext-name: 32 characters", f"{NAME_32}: 1\n", None),
        ("3.2 sts-policy-ext-name: 33 characters", f"{NAME_33}: 1\n", "is not a 'key: value'"),
    ],
)
def test_mta_sts_policy_extension_grammar(section, extra, error):
    judged(section, parse_policy(GOOD_POLICY + extra).errors, error)


@pytest.mark.parametrize(
    ("check", "domain", "expected"),
    [
        (mta_sts.check, "sts-extension.test", {("STS002", "sts-extension.test")}),
        (tlsrpt.check, "sts-extension.test", set()),  # near miss: its TLS-RPT record is valid
        (tlsrpt.check, "rpt-trailing.test", {("RPT002", "rpt-trailing.test")}),
        (mta_sts.check, "rpt-trailing.test", set()),  # near miss: its MTA-STS record is valid
    ],
)
def test_grammar_scenarios(run_domain_check, check, domain, expected):
    assert pairs(run_domain_check(check, domain)) == expected


# BIMI draft -10 4.3:
#   local-part-selector  = "lps" *WSP "=" *WSP %s "true"/"false" bimi-sep
#   bimi-logo-preference = "avp" *WSP "=" *WSP %s "personal"/"brand" bimi-sep
#   avp: "Any other values MUST be ignored"; "If the tag is not present ... the record is
#   treated as if it included avp=brand".
BIMI_RECORDS = [
    ("4.3 lps=true", "lps=true", (True, "brand"), None),
    ("4.3 lps=false", "lps=false", (False, "brand"), None),
    ("4.3 avp=personal", "avp=personal", (False, "personal"), None),
    ("4.3 avp absent reads as brand", "", (False, "brand"), None),
    ("4.3 lps is true or false", "lps=brand-,news-", (False, "brand"), "lps=brand-,news-"),
    ("4.3 avp: other values MUST be ignored", "avp=avatar", (False, "brand"), "avp=avatar"),
]


@pytest.mark.parametrize(("section", "extra", "read", "warning"), BIMI_RECORDS)
def test_bimi_draft_tags(section, extra, read, warning):
    record = parse_bimi("v=BIMI1; l=https://x.test/logo.svg; " + extra)
    assert record.valid, (section, record.errors)  # an optional tag never invalidates
    assert (record.local_part_selector, record.avatar_preference) == read
    if warning is None:
        assert record.warnings == []
    else:
        (said,) = record.warnings
        assert said.startswith(warning) and BIMI_DRAFT in said
    if extra:
        assert record.to_dict()["draft_tags"][extra.split("=")[0]].startswith(BIMI_DRAFT)


def test_bimi_draft_tag_finding_names_the_draft(run_domain_check):
    ok = run_domain_check(bimi.check, "bimi-lps.test")
    assert ok.facts["bimi"]["parsed"]["lps"] is True
    assert ok.facts["bimi"]["parsed"]["avp"] == "personal"
    assert pairs(ok) == set()
    bad = run_domain_check(bimi.check, "bimi-avp.test")
    (finding,) = bad.findings
    assert (finding.rule.id, finding.target, finding.effective_severity.value) == (
        "BIMI001",
        "bimi-avp.test",
        "low",
    )
    assert "avp=avatar" in finding.message and BIMI_DRAFT + " section 4.3" in finding.message
