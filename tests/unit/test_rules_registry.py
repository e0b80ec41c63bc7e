"""Every rule has a doc with the five sections, every doc has a rule, and ids are well formed."""

import re

import pytest

from audit.rules import all_rules, documented_ids, rule_doc

SECTIONS = ["## What it checks", "## Why it matters", "## Example", "## Fix", "## References"]
FAMILIES = {
    "SPF", "DKIM", "DMARC", "MX", "PTR", "TLS", "STS", "RPT", "DANE", "DNSSEC", "BIMI", "BL",
    "MSG", "ALN", "VIA", "ARC", "UNSUB", "BULK", "SEED", "DNS", "CFG",
    "ESP", "RP", "PATH", "SUB", "RCV",
    "NET",  # where the tool may connect (issue 10)
}  # fmt: skip
FAMILIES |= {"ESP"}

REQUIRED = {
    "SPF001": "spf-missing", "SPF002": "spf-multiple-records", "SPF003": "spf-syntax-error",
    "SPF101": "spf-permissive-all", "SPF102": "spf-no-all", "SPF103": "spf-ptr-mechanism",
    "SPF201": "spf-too-many-lookups", "SPF202": "spf-too-many-void-lookups",
    "SPF203": "spf-include-without-spf", "SPF204": "spf-lookups-near-limit",
    "SPF205": "spf-include-loop", "DKIM001": "dkim-no-key-found", "DKIM002": "dkim-key-invalid",
    "DKIM003": "dkim-key-revoked", "DKIM101": "dkim-weak-key", "DKIM102": "dkim-testing-mode",
    "DMARC001": "dmarc-missing", "DMARC002": "dmarc-multiple-records",
    "DMARC003": "dmarc-syntax-error", "DMARC101": "dmarc-policy-none",
    "DMARC102": "dmarc-partial-pct", "DMARC103": "dmarc-no-aggregate-reports",
    "DMARC201": "dmarc-report-destination-unauthorized", "MX001": "mx-missing", "MX002": "mx-null",
    "MX003": "mx-host-unresolvable", "MX004": "mx-target-is-cname", "PTR001": "ptr-missing",
    "PTR002": "ptr-not-forward-confirmed", "DNS001": "dns-temperror",
    "RP001": "return-path-missing", "RP002": "return-path-spf-missing",
    "RP003": "return-path-spf-not-authorizing", "RP004": "return-path-not-aligned",
    "RP005": "return-path-no-bounce-route", "RP006": "return-path-cname-wrong",
    "PATH001": "path-dmarc-fails", "PATH002": "path-via-shown",
    "ESP101": "esp-dkim-not-configured", "ESP102": "esp-default-return-path",
    "SUB301": "submission-auth-before-tls",
    "CFG001": "ignore-expired", "CFG002": "config-target-unreachable",
    "RCV301": "sent-without-tls", "RCV302": "envelope-differs-from-headers",
}  # fmt: skip


def test_required_rules_exist_with_their_names():
    rules = all_rules()
    assert {rid: rules[rid].name for rid in REQUIRED if rid in rules} == REQUIRED


def test_every_rule_has_a_doc_and_every_doc_a_rule():
    assert set(all_rules()) - documented_ids() == set(), "rules without a doc"
    assert documented_ids() - set(all_rules()) == set(), "docs without a rule"


@pytest.mark.parametrize("rule_id", sorted(all_rules()))
def test_doc_shape(rule_id):
    rule = all_rules()[rule_id]
    assert re.fullmatch(r"[A-Z]+\d{3}", rule.id)
    assert rule.family in FAMILIES
    doc = rule_doc(rule_id)
    assert doc is not None
    assert doc.splitlines()[0] == f"# {rule.id} {rule.name}"
    positions = [doc.find(s) for s in SECTIONS]
    assert -1 not in positions, f"{rule_id} lacks a section"
    assert positions == sorted(positions), f"{rule_id} sections out of order"
