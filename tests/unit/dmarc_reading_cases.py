"""One table of DMARC policy readings (issue 11, classes 1, 2, 3 and 6), read by the domain
audit's DMARC check and by the message audit's DMARC verdict (test_dmarc_readings.py): both
must reach the same policy, the same two readings and the same differences.

Every case quotes the RFC text its expectation comes from. The From domain's zone holds no SPF
record of its own: the envelope domain is the From domain, and its SPF is `-all` (a failing
message, so the disposition shows) unless the case says otherwise. Inputs are our own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ORG = "read.test"
IP = "192.0.2.77"
SPF_FAIL = '"v=spf1 -all"'


@dataclass(frozen=True)
class Case:
    id: str
    section: str  # the RFC text the expectation follows
    dmarc: dict[str, tuple[str, ...]]  # name -> the TXT records at _dmarc.<name>
    expect_policy: str | None  # the policy the verdict applies (None: DMARC not applied)
    expect_tag: str | None = None  # p | sp | np
    disposition: str = "none"  # what the message verdict says receivers do with this mail
    differs: bool = False  # the two RFCs read it differently (DMARC005 / readings)
    from_domain: str = ORG
    extra: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # other zone data
    domain_rules: frozenset[str] = frozenset()  # rules the domain check must fire (besides)

    @property
    def result(self) -> str:
        return "none" if self.expect_policy is None else "fail"


def rec(*texts: str) -> tuple[str, ...]:
    return texts


RUA = f"rua=mailto:d@{ORG}"

CASES = [
    # ---- class 1: several records
    Case(
        "several-records-at-author",
        "RFC 7489 6.6.3 step 5: 'If the remaining set contains multiple records or no records, "
        "policy discovery terminates and DMARC processing is not applied to this message'; "
        "RFC 9989 4.10 step 2: 'If multiple DMARC Policy Records are returned, they are all "
        "discarded' (and the walk above finds none)",
        {ORG: rec(f"v=DMARC1; p=reject; {RUA}", f"v=DMARC1; p=none; {RUA}")},
        None,
        domain_rules=frozenset({"DMARC002"}),
    ),
    Case(
        "several-records-parent-has-one",
        "RFC 7489 6.6.3 steps 3 and 5: the author's set is not empty, so the organizational "
        "domain is not asked and discovery terminates; RFC 9989 4.10 steps 2 and 5-7 discard "
        "the set and walk on to the parent's record (stated, not applied)",
        {
            f"mail.{ORG}": rec("v=DMARC1; p=reject", "v=DMARC1; p=quarantine"),
            ORG: rec(f"v=DMARC1; p=none; sp=quarantine; {RUA}"),
        },
        None,
        differs=True,
        from_domain=f"mail.{ORG}",
        domain_rules=frozenset({"DMARC002", "DMARC005"}),
    ),
    # ---- class 2: np for an author domain that does not exist
    Case(
        "np-nxdomain-subdomain",
        "RFC 9989 4.10.1: the policy is taken 'from the \"np\" tag (if any) if the Author "
        "Domain does not exist'; 3.2.13: 'if the response code ... is NXDOMAIN, then the "
        "domain name ... do[es] not exist'; RFC 9091 2.7 agrees (NXDOMAIN for A, AAAA, MX)",
        {ORG: rec(f"v=DMARC1; p=reject; sp=none; np=quarantine; {RUA}")},
        "quarantine",
        "np",
        "quarantine",
        from_domain=f"ghost.{ORG}",
        domain_rules=frozenset({"DMARC004"}),
    ),
    Case(
        "np-existing-subdomain-gets-sp",
        "RFC 9989 4.7 np: 'It applies only to non-existent subdomains ... and not to either "
        "existing subdomains or the domain itself': www has an A record, so sp applies",
        {ORG: rec(f"v=DMARC1; p=reject; sp=none; np=quarantine; {RUA}")},
        "none",
        "sp",
        "none",
        from_domain=f"www.{ORG}",
        extra={f"www.{ORG}": [("A", "192.0.2.80")]},
        domain_rules=frozenset({"DMARC004", "DMARC101"}),
    ),
    Case(
        "np-nodata-subdomain-readings-differ",
        "RFC 9989 3.2.13 (NXDOMAIN only): a name with only a TXT record exists, so sp applies; "
        "RFC 9091 2.7: 'a domain for which there is an NXDOMAIN or NODATA response for A, "
        "AAAA, and MX records' does not exist, so np would; the verdict follows RFC 9989",
        {ORG: rec(f"v=DMARC1; p=reject; sp=none; np=quarantine; {RUA}")},
        "none",
        "sp",
        "none",
        differs=True,
        from_domain=f"txt.{ORG}",
        extra={f"txt.{ORG}": [("TXT", '"site-verification=abc"')]},
        domain_rules=frozenset({"DMARC004", "DMARC005", "DMARC101"}),
    ),
    Case(
        "np-never-for-the-policy-domain",
        "RFC 9989 4.10.1: 'If the DMARC Policy Record to be applied is that of the Author "
        "Domain, then the Domain Owner Assessment Policy is taken from the \"p\" tag'",
        {ORG: rec(f"v=DMARC1; p=reject; np=none; {RUA}")},
        "reject",
        "p",
        "reject",
        differs=True,  # np= itself: plain RFC 7489 receivers do not know it
        domain_rules=frozenset({"DMARC005"}),
    ),
    # ---- class 3: invalid or missing p=, invalid sp=, invalid rua URIs
    Case(
        "invalid-p-no-rua",
        "RFC 7489 6.6.3 step 6.2 / RFC 9989 4.10.1: no valid p and no rua with a valid URI: "
        "'the Mail Receiver applies no DMARC processing to this message'",
        {ORG: rec("v=DMARC1; p=block")},
        None,
        domain_rules=frozenset({"DMARC003", "DMARC103"}),
    ),
    Case(
        "invalid-p-valid-rua",
        "RFC 7489 6.6.3 step 6.1 / RFC 9989 4.10.1: 'If a \"rua\" tag is present and contains "
        "at least one syntactically valid reporting URI, the Mail Receiver MUST act as if a "
        "record containing \"p=none\" was retrieved'",
        {ORG: rec(f"v=DMARC1; p=block; {RUA}")},
        "none",
        "p",
        domain_rules=frozenset({"DMARC003", "DMARC101"}),
    ),
    Case(
        "missing-p-valid-rua",
        "RFC 9989 4.7 p: 'If this tag is not present in an otherwise syntactically valid DMARC "
        "Policy Record, then the record is treated as if it included \"p=none\"'; RFC 7489 6.6.3 "
        "step 6.1",
        {ORG: rec(f"v=DMARC1; {RUA}")},
        "none",
        "p",
        domain_rules=frozenset({"DMARC101"}),
    ),
    Case(
        "invalid-sp-valid-rua",
        "RFC 7489 6.6.3 step 6 / RFC 9989 4.10.1: a record that 'contains an \"sp\" ... tag "
        "that is not valid' with a valid rua is read as p=none, for the subdomain too",
        {ORG: rec(f"v=DMARC1; p=reject; sp=bounce; {RUA}")},
        "none",
        "p",
        from_domain=f"www.{ORG}",
        extra={f"www.{ORG}": [("A", "192.0.2.80")]},
        domain_rules=frozenset({"DMARC003", "DMARC004", "DMARC101"}),
    ),
    Case(
        "invalid-sp-no-rua",
        "RFC 7489 6.6.3 step 6.2 / RFC 9989 4.10.1: invalid sp and no valid rua: no DMARC",
        {ORG: rec("v=DMARC1; p=reject; sp=bounce")},
        None,
        domain_rules=frozenset({"DMARC003", "DMARC103"}),
    ),
    Case(
        "bare-bang-rua-is-not-valid",
        "RFC 7489 6.4: dmarc-uri = URI [ \"!\" 1*DIGIT [ \"k\" / \"m\" / \"g\" / \"t\" ] ]; a '!' "
        "with no digits is not a valid URI, so there is no valid rua and no DMARC",
        {ORG: rec(f"v=DMARC1; rua=mailto:d@{ORG}!")},
        None,
        domain_rules=frozenset({"DMARC003", "DMARC103"}),
    ),
    Case(
        "size-limit-rua-is-valid",
        "RFC 7489 6.4 (and RFC 9989 4.8 obs-dmarc-report-size): '!10m' is a size limit: the URI "
        "is valid, so a record without p= reads as p=none",
        {ORG: rec(f"v=DMARC1; rua=mailto:d@{ORG}!10m")},
        "none",
        "p",
        domain_rules=frozenset({"DMARC101"}),
    ),
    # ---- class 6: where the two RFCs differ
    Case(
        "p-not-after-v-with-rua",
        "RFC 7489 6.3: 'the \"v\" and \"p\" tags MUST be present and MUST appear in that order' "
        "(6.4: dmarc-version dmarc-sep [dmarc-request] ...): no valid p, so p=none with a valid "
        "rua; RFC 9989 4.7: only 'v' must be first, so p=reject applies; the verdict follows "
        "RFC 9989",
        {ORG: rec(f"v=DMARC1; {RUA}; p=reject")},
        "reject",
        "p",
        "reject",
        differs=True,
        domain_rules=frozenset({"DMARC003", "DMARC005"}),
    ),
    Case(
        "p-not-after-v-without-rua",
        "RFC 7489 6.3 and 6.6.3 step 6.2: no valid p and no rua: no DMARC; RFC 9989 4.7: "
        "p=quarantine applies",
        {ORG: rec("v=DMARC1; adkim=r; p=quarantine")},
        "quarantine",
        "p",
        "quarantine",
        differs=True,
        domain_rules=frozenset({"DMARC003", "DMARC005", "DMARC103"}),
    ),
    Case(
        "pct-out-of-range",
        "RFC 7489 6.3 pct: 'Integer percentage of messages from 0 to 100'; a syntax error there "
        "'SHOULD be discarded in favor of default values' (100); RFC 9989 A.6 removed pct: an "
        "unknown tag, 'MUST be ignored' (4.7)",
        {ORG: rec(f"v=DMARC1; p=reject; pct=150; {RUA}")},
        "reject",
        "p",
        "reject",
        differs=True,
        domain_rules=frozenset({"DMARC003", "DMARC005"}),
    ),
    Case(
        "unknown-ri-rf",
        "RFC 7489 6.3 ri (a 32-bit unsigned integer) and rf ('only \"afrf\"'); RFC 9989 removed "
        "both (9.3): unknown tags are ignored",
        {ORG: rec(f"v=DMARC1; p=reject; ri=daily; rf=xml; {RUA}")},
        "reject",
        "p",
        "reject",
        differs=True,
        domain_rules=frozenset({"DMARC003", "DMARC005"}),
    ),
    Case(
        "t-y-one-step-down",
        "RFC 9989 4.7 t=y: 'if the policy is \"reject\" and the value of the \"t\" tag is \"y\", "
        "a policy of \"quarantine\" will be applied'; RFC 7489 ignores the unknown tag",
        {ORG: rec(f"v=DMARC1; p=reject; t=y; {RUA}")},
        "reject",
        "p",
        "quarantine",
        differs=True,
        domain_rules=frozenset({"DMARC005"}),
    ),
    Case(
        "psd-n-below-the-org-domain",
        "RFC 9989 4.10.2 rule 1: 'If a valid DMARC Policy Record contains the \"psd\" tag set "
        "to \"n\" ... this is the Organizational Domain'; RFC 7489 3.2 and 6.6.3 take the PSL's "
        "organizational domain; the record follows RFC 7489's discovery",
        {
            f"mail.{ORG}": rec(f"v=DMARC1; p=reject; psd=n; {RUA}"),
            ORG: rec(f"v=DMARC1; p=none; {RUA}"),
        },
        "none",
        "p",
        "none",
        differs=True,
        from_domain=f"a.mail.{ORG}",
        extra={f"a.mail.{ORG}": [("A", "192.0.2.81")]},
        domain_rules=frozenset({"DMARC004", "DMARC005", "DMARC101"}),
    ),
    Case(
        "psd-invalid-value",
        "RFC 9989 4.7 psd: 'Possible values are' y, n, u; 4.8: 'Syntax errors in the remainder "
        "of the record MUST be discarded in favor of default values'; RFC 7489 does not know psd",
        {ORG: rec(f"v=DMARC1; p=reject; psd=maybe; {RUA}")},
        "reject",
        "p",
        "reject",
        differs=True,
        domain_rules=frozenset({"DMARC003", "DMARC005"}),
    ),
]


def zone(case: Case) -> dict[str, list[tuple[str, str]]]:
    """In-memory zone data for a case: the policy records, the From domain's failing SPF (only
    when the From domain is meant to exist), and the case's extra names."""
    records: dict[str, list[tuple[str, str]]] = {ORG: [("MX", f"10 mx.{ORG}.")]}
    records[f"mx.{ORG}"] = [("A", "192.0.2.1")]
    for name, texts in case.dmarc.items():
        records[f"_dmarc.{name}"] = [("TXT", f'"{t}"') for t in texts]
    for name, data in case.extra.items():
        records.setdefault(name, []).extend(data)
    if case.from_domain in records:
        records[case.from_domain].append(("TXT", SPF_FAIL))
    return records
