"""The DMARC record parser: RFC 7489 tags, RFC 9989 readings, errors collected not raised."""

from audit.records.dmarc import is_dmarc_record, parse_dmarc, with_policy


def test_full_record_parses_every_tag():
    r = parse_dmarc(
        "v=DMARC1; p=quarantine; sp=reject; adkim=s; aspf=r; pct=50; fo=1:d; "
        "rua=mailto:agg@example.com!10m,mailto:b@example.net; ruf=mailto:f@example.com; ri=3600"
    )
    assert r.valid, r.errors
    assert (r.policy, r.subdomain_policy, r.adkim, r.aspf, r.pct) == (
        "quarantine",
        "reject",
        "s",
        "r",
        50,
    )
    assert r.fo == ["1", "d"]
    assert [u.domain for u in r.rua] == ["example.com", "example.net"]
    assert r.rua[0].size_limit == "10m"
    assert r.ruf[0].address == "f@example.com"
    assert any("pct= is removed in RFC 9989" in w for w in r.warnings)


def test_defaults_when_tags_absent():
    r = parse_dmarc("v=DMARC1; p=reject")
    assert (r.adkim, r.aspf, r.pct, r.fo, r.rua) == ("r", "r", 100, ["0"], [])
    assert r.effective_policy(for_subdomain=True) == "reject"


def test_invalid_policy_without_rua_is_not_applied():
    # Changed in issue 11: this test asserted an RFC 9989 reading of p=none. RFC 9989 4.10.1:
    # "If a retrieved DMARC Policy Record does not contain a valid "p" tag ... Otherwise [no
    # rua with a syntactically valid URI], the Mail Receiver applies no DMARC processing to
    # this message." RFC 7489 6.6.3 step 6.2 says the same.
    r = parse_dmarc("v=DMARC1; p=rejected")
    assert not r.valid
    assert r.policy is None
    assert (r.rfc9989.applies, r.rfc7489.applies) == (False, False)
    assert "p=rejected is not none, quarantine or reject" in r.errors


def test_missing_p_with_rua_reads_as_none():
    # RFC 7489 6.6.3 step 6.1 / RFC 9989 4.10.1: with a valid rua, act as if p=none. Changed in
    # issue 11: `policy` is now p= as written (absent here); the readings hold p=none.
    r = parse_dmarc("v=DMARC1; rua=mailto:d@example.com")
    assert r.valid
    assert r.policy is None
    assert (r.rfc7489.p, r.rfc9989.p) == ("none", "none")


def test_missing_p_without_rua_is_invalid():
    assert "p= is missing" in parse_dmarc("v=DMARC1; sp=reject").errors


def test_errors_for_bad_values():
    r = parse_dmarc("v=DMARC1; p=none; adkim=x; pct=200; rua=dmarc@example.com; p=reject")
    assert "adkim=x is not r (relaxed) or s (strict)" in r.errors
    assert "pct=200 is not a whole number from 0 to 100" in r.errors
    assert any("is not a URI" in e for e in r.errors)
    assert "tag p= appears more than once" in r.errors


def test_version_must_come_first():
    assert "the record must start with v=DMARC1" in parse_dmarc("p=reject; v=DMARC1").errors


def test_rfc9989_tags():
    r = parse_dmarc("v=DMARC1; p=reject; np=quarantine; psd=n; t=y")
    assert (r.nonexistent_policy, r.psd, r.testing) == ("quarantine", "n", True)


def test_record_selection():
    assert is_dmarc_record("v=DMARC1; p=none")
    assert is_dmarc_record("v = DMARC1 ;p=none")
    assert not is_dmarc_record("v=spf1 -all")
    assert not is_dmarc_record("v=DMARC10; p=none")


def test_with_policy_keeps_other_tags_and_drops_pct():
    r = parse_dmarc("v=DMARC1; p=none; pct=10; rua=mailto:d@example.com")
    assert with_policy(r, "quarantine") == "v=DMARC1; p=quarantine; rua=mailto:d@example.com"


def test_garbage_never_raises():
    for text in ["", ";;;", "v=DMARC1; =x", "v=DMARC1; p", "\x00\xff", "v=DMARC1; rua=mailto:"]:
        parse_dmarc(text)


def test_version_value_is_case_sensitive_tag_name_is_not():
    assert not is_dmarc_record("v=dmarc1; p=reject")
    assert is_dmarc_record("V=DMARC1; p=reject")
