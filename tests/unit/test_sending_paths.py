"""The sending_paths check on the path-*.test (and esp-*.test) fixture zones: one scenario per
rule that fires, and the near misses that must not."""

from __future__ import annotations

import asyncio

import jsonschema
import pytest

from audit.checks.common import DomainContext
from audit.checks.domain import sending_paths
from audit.fact_json import to_json
from audit.facts.dmarc_policy import discover_policy
from audit.facts.paths import declared_paths
from audit.model import CheckOutcome, Report, Status
from audit.net.dns import Resolver, memory_backend
from tests.conftest import pairs
from tests.unit.test_report_schema import VALIDATOR  # the committed schema

PATH_RULES = {"RP001", "RP002", "RP003", "RP004", "RP005", "RP006", "ESP101", "ESP102",
              "PATH001", "PATH002"}  # fmt: skip


@pytest.fixture
def audit_paths(run_domain_check):
    def run(domain: str, *esps: str, **declared):
        paths = declared_paths(list(esps), **declared)
        result = run_domain_check(sending_paths.check, domain, sending_paths=paths)
        rows = {r["name"]: r for r in to_json(result.facts["sending_paths"])["paths"]}
        return result, rows

    return run


def severities(result) -> dict[tuple[str, str], str]:
    return {(f.rule.id, f.target): f.effective_severity.value for f in result.findings}


def test_own_mta_set_up_correctly_is_a_near_miss(audit_paths):
    result, rows = audit_paths(
        "path-own.test", ips=["198.51.100.7"], return_path="bounces.path-own.test",
        dkim_selectors=["s1"],
    )  # fmt: skip
    assert pairs(result) == set()
    row = rows["own-mta"]
    assert (row["origin"], row["envelope_domain"]) == ("declared", "bounces.path-own.test")
    assert row["spf"]["result"] == "pass"
    assert row["spf"]["senders"][0]["matched"] == "ip4:198.51.100.7"
    assert row["dkim"]["state"] == "ok" and row["dkim"]["d"] == ["path-own.test"]
    assert row["alignment"] == {"spf": {"rfc7489": True, "rfc9989": True}, "dkim": True}
    assert (row["dmarc"], row["disposition"], row["bounces_ok"]) == ("pass", "none", True)
    assert (row["gmail"]["mailed_by"], row["gmail"]["signed_by"], row["gmail"]["via"]) == (
        "bounces.path-own.test",
        "path-own.test",
        None,
    )
    assert row["fixes"] == []


def test_rp001_return_path_does_not_exist(audit_paths):
    result, rows = audit_paths(
        "path-own.test", ips=["198.51.100.7"], return_path="nx.path-own.test",
        dkim_selectors=["s1"],
    )  # fmt: skip
    assert pairs(result) == {("RP001", "nx.path-own.test")}  # not RP002/RP005 on top
    assert "does not exist" in result.findings[0].message
    assert rows["own-mta"]["dmarc"] == "pass"  # aligned DKIM still carries it


def test_rp002_return_path_without_spf(audit_paths):
    result, _ = audit_paths(
        "path-own.test", ips=["198.51.100.7"], return_path="nospf.path-own.test",
        dkim_selectors=["s1"],
    )  # fmt: skip
    assert pairs(result) == {("RP002", "nospf.path-own.test")}
    fix = 'Publish nospf.path-own.test TXT "v=spf1 ip4:198.51.100.7 -all"'
    assert result.findings[0].fix == fix


def test_rp003_spf_does_not_list_the_mta_and_path001_at_reject(audit_paths):
    result, rows = audit_paths(
        "path-own.test", ips=["198.51.100.7"], return_path="open.path-own.test"
    )
    assert severities(result) == {
        ("RP003", "open.path-own.test"): "high",
        ("PATH001", "own-mta"): "critical",
    }
    rp003 = next(f for f in result.findings if f.rule.id == "RP003")
    assert rp003.evidence == ["v=spf1 ip4:203.0.113.0/24 ~all"]
    assert rp003.fix == (
        'Publish open.path-own.test TXT "v=spf1 ip4:203.0.113.0/24 ip4:198.51.100.7 ~all"'
    )
    path001 = next(f for f in result.findings if f.rule.id == "PATH001")
    assert "reject it (p=reject)" in path001.message
    assert (rows["own-mta"]["spf"]["result"], rows["own-mta"]["dmarc"]) == ("softfail", "fail")
    assert rows["own-mta"]["gmail"]["via"] is None and rows["own-mta"]["gmail"]["unauthenticated"]


def test_aligned_dkim_keeps_the_path_passing_despite_rp003(audit_paths):
    result, rows = audit_paths(
        "path-own.test", ips=["198.51.100.7"], return_path="open.path-own.test",
        dkim_selectors=["s1"],
    )  # fmt: skip
    assert pairs(result) == {("RP003", "open.path-own.test")}
    assert rows["own-mta"]["dmarc"] == "pass"


def test_rp005_no_bounce_route(audit_paths):
    result, rows = audit_paths(
        "path-own.test", ips=["198.51.100.7"], return_path="bounceless.path-own.test",
        dkim_selectors=["s1"],
    )  # fmt: skip
    assert pairs(result) == {("RP005", "bounceless.path-own.test")}
    assert rows["own-mta"]["bounces_ok"] is False


def test_rp004_aspf_strict_with_a_subdomain_return_path(audit_paths):
    result, rows = audit_paths(
        "path-strict.test", helo="mail.path-strict.test", return_path="bounces.path-strict.test"
    )
    assert severities(result) == {
        ("RP004", "bounces.path-strict.test"): "medium",
        ("PATH001", "own-mta"): "critical",
    }
    rp004 = next(f for f in result.findings if f.rule.id == "RP004")
    assert "aspf=s" in rp004.message
    assert "aspf=r" in rp004.fix  # the relaxed record is computed
    row = rows["own-mta"]
    assert row["ips"] == ["198.51.100.8"]  # from the HELO name's address
    assert row["spf"]["result"] == "pass"
    assert row["alignment"]["spf"] == {"rfc7489": False, "rfc9989": False}


def test_aspf_strict_near_miss_when_dkim_aligns(audit_paths):
    result, rows = audit_paths(
        "path-strict.test", helo="mail.path-strict.test", return_path="bounces.path-strict.test",
        dkim_selectors=["s1"],
    )  # fmt: skip
    assert severities(result) == {("RP004", "bounces.path-strict.test"): "low"}
    assert rows["own-mta"]["dmarc"] == "pass"


def test_return_path_in_another_organization_quarantine_and_via(audit_paths):
    result, rows = audit_paths(
        "path-quar.test", ips=["198.51.100.9"], return_path="bounces.path-other.test"
    )
    assert severities(result) == {
        ("RP004", "bounces.path-other.test"): "medium",
        ("PATH001", "own-mta"): "high",
        ("PATH002", "own-mta"): "low",
    }
    row = rows["own-mta"]
    assert (row["dmarc"], row["disposition"]) == ("fail", "quarantine")
    assert row["gmail"]["via"] == "bounces.path-other.test"


def test_p_none_path_fails_but_is_delivered(audit_paths):
    result, rows = audit_paths("path-none.test", helo="mail.path-none.test")
    assert severities(result) == {
        ("RP003", "path-none.test"): "high",
        ("PATH001", "own-mta"): "medium",
    }
    assert (rows["own-mta"]["dmarc"], rows["own-mta"]["disposition"]) == ("fail", "none")
    assert rows["own-mta"]["envelope_domain"] == "path-none.test"  # no --return-path


def test_sendgrid_custom_return_path_and_dkim_cnames_are_a_near_miss(audit_paths):
    result, rows = audit_paths("path-sg-ok.test", "sendgrid", return_path="em123.path-sg-ok.test")
    assert pairs(result) == set()
    row = rows["sendgrid"]
    assert row["return_path_record"] == {"records": ["u123.wl45.sendgrid.net"], "ok": True}
    assert row["spf"]["include_reached"] is True
    assert [s["state"] for s in row["dkim"]["selectors"]] == ["ok", "ok"]
    assert row["dkim"]["selectors"][0]["cname"] == ["s1.domainkey.u123.wl45.sendgrid.net"]
    assert (row["dmarc"], row["gmail"]["via"]) == ("pass", None)


def test_rp006_return_path_cname_to_the_wrong_account_pattern(audit_paths):
    result, rows = audit_paths(
        "path-sg-wrong.test", "sendgrid", return_path="em123.path-sg-wrong.test"
    )
    assert pairs(result) == {("RP006", "em123.path-sg-wrong.test")}
    finding = result.findings[0]
    assert "points to sendgrid.net, not to u*.wl*.sendgrid.net" in finding.message
    assert finding.fix.startswith("em123.path-sg-wrong.test CNAME u*.wl*.sendgrid.net")
    assert rows["sendgrid"]["dmarc"] == "pass"  # DKIM through the CNAMEs still aligns


def test_sendgrid_without_domain_authentication(audit_paths):
    result, rows = audit_paths("path-sg-default.test", "sendgrid")
    assert severities(result) == {
        ("ESP101", "sendgrid"): "medium",
        ("ESP102", "sendgrid"): "low",
        ("PATH001", "sendgrid"): "critical",
        ("PATH002", "sendgrid"): "low",
    }
    esp101 = next(f for f in result.findings if f.rule.id == "ESP101")
    assert "s1._domainkey.path-sg-default.test CNAME s1.domainkey.u*.wl*.sendgrid.net" in esp101.fix
    row = rows["sendgrid"]
    assert row["envelope_domain"] == "sendgrid.net"
    assert (row["dmarc"], row["disposition"]) == ("fail", "reject")
    assert row["gmail"] == {
        "from_domain": "path-sg-default.test",
        "mailed_by": "sendgrid.net",
        "signed_by": "sendgrid.net",
        "shows_via": True,
        "via": "sendgrid.net",
        "unauthenticated": False,
        "reason": "the only passing DKIM signature is d=sendgrid.net, not path-sg-default.test",
    }


def test_detected_microsoft_365_with_selector1_and_selector2(audit_paths):
    result, rows = audit_paths("esp-m365.test")
    assert pairs(result) == set()
    row = rows["microsoft-365"]
    assert row["origin"] == "detected"
    assert [(s["selector"], s["state"]) for s in row["dkim"]["selectors"]] == [
        ("selector1", "ok"),
        ("selector2", "ok"),
    ]
    assert (row["envelope_domain"], row["spf"]["result"], row["dmarc"]) == (
        "esp-m365.test",
        "pass",
        "pass",
    )
    assert any("include:spf.protection.outlook.com" in e for e in row["evidence"])


def test_detected_sendgrid_cannot_see_the_em_return_path(audit_paths):
    result, rows = audit_paths("path-sg-ok.test")
    assert pairs(result) == {("ESP102", "sendgrid"), ("PATH002", "sendgrid")}
    esp102 = next(f for f in result.findings if f.rule.id == "ESP102")
    assert "give it with --return-path" in esp102.message
    assert rows["sendgrid"]["dmarc"] == "pass"


def test_no_path_declared_or_detected(run_domain_check):
    result = run_domain_check(sending_paths.check, "clean.test")
    assert result.status is Status.COMPLETED and result.findings == []
    assert to_json(result.facts["sending_paths"])["paths"] == []


def test_temperror_makes_the_path_inconclusive_not_missing():
    records = {
        "t.test": [("TXT", '"v=spf1 ip4:192.0.2.1 -all"'), ("MX", "10 mx.t.test.")],
        "mx.t.test": [("A", "192.0.2.1")],
        "_dmarc.t.test": [("TXT", '"v=DMARC1; p=reject"')],
        "bounces.t.test": [("TIMEOUT", "")],
    }
    ctx = DomainContext(
        "t.test",
        Resolver(memory_backend(records)),
        sending_paths=declared_paths(ips=["192.0.2.1"], return_path="bounces.t.test"),
    )
    result = asyncio.run(sending_paths.check(ctx))
    assert result.status is Status.INCONCLUSIVE
    assert pairs(result) == {("DNS001", "bounces.t.test")}
    row = to_json(result.facts["sending_paths"])["paths"][0]
    assert row["inconclusive"].startswith("bounces.t.test") and row["dmarc"] is None


def test_facts_validate_against_the_report_schema(audit_paths):
    result, _ = audit_paths("path-sg-default.test", "sendgrid")
    outcome = CheckOutcome("sending_paths", "path-sg-default.test", result.status, result.facts,
                           result.findings)  # fmt: skip
    doc = Report("domain", "path-sg-default.test", [outcome]).to_dict()
    VALIDATOR.validate(doc)
    doc["outcomes"][0]["facts"]["sending_paths"]["paths"][0]["dmarc"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(doc)


def test_flags_group_into_paths():
    paths = declared_paths(
        ["sendgrid", "mailgun"], return_path="em1.x.test", ips=["192.0.2.1"], helo="mta.x.test",
        dkim_selectors=["s1"],
    )  # fmt: skip
    assert [(p.name, p.esp, p.return_path, p.dkim_selectors, p.ips) for p in paths] == [
        ("sendgrid", "sendgrid", "em1.x.test", ("s1",), ()),
        ("mailgun", "mailgun", "em1.x.test", ("s1",), ()),
        ("own-mta", None, None, (), ("192.0.2.1",)),
    ]
    only_rp = declared_paths(return_path="b.x.test", dkim_selectors=["k"])
    assert [(p.name, p.return_path, p.dkim_selectors) for p in only_rp] == [
        ("own-mta", "b.x.test", ("k",))
    ]
    assert declared_paths() == []


def test_rp004_where_rfc7489_and_rfc9989_readings_differ(audit_paths):
    result, rows = audit_paths(
        "shop.path-psd.test", ips=["198.51.100.11"], return_path="bounces.path-psd.test"
    )
    assert pairs(result) == {("RP004", "bounces.path-psd.test")}
    message = result.findings[0].message
    assert "RFC 7489 receivers: aligned" in message
    assert "RFC 9989 receivers, whose organizational domain comes from the DMARC tree walk: " \
        "not aligned" in message
    row = rows["own-mta"]
    assert row["alignment"]["spf"] == {"rfc7489": True, "rfc9989": False}
    assert row["dmarc"] == "pass"  # the prediction follows RFC 7489, what receivers run today


def _spf_alignment(records: dict, from_domain: str, envelope: str) -> tuple[dict, str | None]:
    resolver = Resolver(memory_backend(records))
    ctx = DomainContext(
        from_domain,
        resolver,
        sending_paths=declared_paths(ips=["192.0.2.1"], return_path=envelope),
    )
    row = asyncio.run(sending_paths.check(ctx)).facts["sending_paths"].paths[0]
    return to_json(row.alignment.spf), asyncio.run(discover_policy(resolver, envelope)).rfc9989_org


@pytest.mark.parametrize(
    ("dmarc", "from_domain", "expect"),
    [
        # RFC 9989 4.10.2: the walk finds no record, so the initial target domain is the
        # Organizational Domain: bounces.nr.test is its own, not nr.test (the path check once
        # fell back to the Public Suffix List here and called it aligned; the DMARC check's
        # walk did not: one walk now, facts/dmarc_policy.tree_walk_org)
        ({}, "nr.test", {"rfc7489": True, "rfc9989": False}),
        # psd=y at nr.test: the organizational domain is the name one label below it
        (
            {"_dmarc.nr.test": [("TXT", '"v=DMARC1; p=reject; psd=y"')]},
            "shop.nr.test",
            {"rfc7489": True, "rfc9989": False},
        ),
        # near miss: the record at nr.test is the organizational domain of both
        (
            {"_dmarc.nr.test": [("TXT", '"v=DMARC1; p=reject"')]},
            "nr.test",
            {"rfc7489": True, "rfc9989": True},
        ),
    ],
)
def test_rfc9989_alignment_uses_the_one_tree_walk(dmarc, from_domain, expect):
    spf = ("TXT", '"v=spf1 ip4:192.0.2.1 -all"')
    records = {
        "nr.test": [("MX", "10 mx.nr.test.")],
        from_domain: [("MX", "10 mx.nr.test.")],
        "mx.nr.test": [("A", "192.0.2.1")],
        "bounces.nr.test": [("MX", "10 mx.nr.test."), spf],
        **dmarc,
    }
    envelope = "bounces.nr.test"
    aligned_by, env_org = _spf_alignment(records, from_domain, envelope)
    assert aligned_by == expect
    assert env_org == ("nr.test" if expect["rfc9989"] else envelope)
