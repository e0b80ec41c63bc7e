"""`audit fix` against Knot: the proposed records, applied to a copy of the served zones, clear
the findings they target and bring no new one."""

from __future__ import annotations

import json
from pathlib import Path

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.zone

from reports.fix import _txt_presentation
from tests.integration.gate_world import EditableKnot, findings, json_reports, run_audit

DOMAINS = [
    "spf-too-many.test",  # SPF201: flattened
    "spf-plus-all.test",  # SPF101 (+all) and DMARC001
    "dmarc-none.test",  # DMARC101, STS001, RPT001
    "dmarc-pct.test",  # pct raised
    "spf-ptr.test",  # SPF103
    "dmarc-norua.test",  # DMARC103
]



def apply(zone_file: Path, origin: str, changes: list[dict]) -> None:
    """Replace each changed RRset in the zone file, as a DNS operator pastes the snippet."""
    zone = dns.zone.from_file(str(zone_file), origin=origin, relativize=False)
    for change in changes:
        name = dns.name.from_text(change["name"] + ".")
        rdtype = dns.rdatatype.from_text(change["type"])
        node = zone.find_node(name, create=True)
        node.delete_rdataset(dns.rdataclass.IN, rdtype)
        rdataset = node.find_rdataset(dns.rdataclass.IN, rdtype, create=True)
        for value in change["rrset_after"]:
            text = _txt_presentation(value) if change["type"] == "TXT" else value
            rdataset.add(dns.rdata.from_text(dns.rdataclass.IN, rdtype, text, origin=None), 300)
    zone.to_file(str(zone_file), relativize=False)


def audit_json(knot: EditableKnot, domain: str, cwd: Path) -> dict:
    proc = run_audit("domain", domain, "--dns-server", knot.address, "--no-probes", "--format",
                     "json", "--no-history", cwd=cwd)  # fmt: skip
    assert proc.returncode in (0, 1, 3), proc.stderr
    return findings(json_reports(proc))


def test_fix_records_applied_to_knot_clear_their_findings(editable_knot, tmp_path: Path):
    before = {d: audit_json(editable_knot, d, tmp_path) for d in DOMAINS}
    plans = {}
    for domain in DOMAINS:
        proc = run_audit("fix", domain, "--dns-server", editable_knot.address, "--no-probes",
                         "--format", "json", cwd=tmp_path)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        plans[domain] = json.loads(proc.stdout)
        assert plans[domain]["schema_version"] == 2
        assert plans[domain]["changes"], domain
        apply(editable_knot.zone(domain), domain, plans[domain]["changes"])
    editable_knot.restart()

    flat = next(c for c in plans["spf-too-many.test"]["changes"] if c["clears"] == ["SPF201"])
    assert "_big.spf-too-many.test" in flat["note"] and "re-check" in flat["note"]
    assert "include:_big" not in flat["new"] and "ip4:192.0.2.32" in flat["new"]
    dmarc = next(c for c in plans["dmarc-none.test"]["changes"] if c["type"] == "TXT"
                 and c["name"] == "_dmarc.dmarc-none.test")  # fmt: skip
    assert dmarc["new"] == "v=DMARC1; p=quarantine; rua=mailto:dmarc@dmarc-none.test"
    pct = next(c for c in plans["dmarc-pct.test"]["changes"] if c["name"].startswith("_dmarc"))
    assert "p=quarantine; pct=50" in pct["new"] and "rua=mailto:dmarc@dmarc-pct.test" in pct["new"]

    afters = {}
    for domain in DOMAINS:
        after = afters[domain] = audit_json(editable_knot, domain, tmp_path)
        targeted = {rule for c in plans[domain]["changes"] for rule in c["clears"]}
        still = {key for key in after if key[1] in targeted}
        assert not still, f"{domain}: {still} not cleared"
        new = {(k[1], k[2]) for k in after} - {(k[1], k[2]) for k in before[domain]}
        announced = {rule for c in plans[domain]["changes"] for rule in c["leaves"]}
        assert {rule for rule, _ in new} <= announced, f"{domain}: the fix brought {new}"
    assert ("spf-too-many.test", "SPF201", "spf-too-many.test") in before["spf-too-many.test"]
    assert ("dmarc-pct.test", "DMARC102", "dmarc-pct.test") in afters["dmarc-pct.test"]  # 50%
    dmarc_missing = next(c for c in plans["spf-plus-all.test"]["changes"]
                         if c["clears"] == ["DMARC001"])  # fmt: skip
    assert dmarc_missing["leaves"] == ["DMARC101"]  # p=none: announced, step 0 of the rollout


def test_parked_domain_gets_null_mx_spf_fail_and_reject(knot_server, tmp_path: Path):
    proc = run_audit("fix", "spf-missing.test", "--parked", "--dns-server",
                     knot_server.dns_server, "--format", "zone", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if not line.startswith(";")]
    assert lines == [
        'spf-missing.test. 3600 IN TXT "google-site-verification=abc123"',  # kept as it is
        'spf-missing.test. 3600 IN TXT "v=spf1 -all"',
        '_dmarc.spf-missing.test. 3600 IN TXT "v=DMARC1; p=reject; '
        'rua=mailto:dmarc-reports@spf-missing.test"',
        "spf-missing.test. 3600 IN MX 0 .",
    ]
