"""The SPF domain check on the fixture zones: each rule on its scenario, silent on near misses,
facts in the shape the HTML report renders, and temperrors that never read as "missing"."""

import asyncio

import pytest

from audit.checks.common import DomainContext
from audit.checks.domain import spf
from audit.fact_json import to_json
from audit.model import Status
from audit.net.dns import Resolver, memory_backend
from tests.conftest import pairs

NODE_KEYS = {
    "domain",
    "via",
    "record",
    "lookups",
    "total_lookups",
    "void_lookups",
    "error",
    "children",
}


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("clean.test", set()),
        ("spf-missing.test", {("SPF001", "spf-missing.test")}),
        ("spf-multiple.test", {("SPF002", "spf-multiple.test")}),
        ("spf-syntax.test", {("SPF003", "spf-syntax.test")}),
        ("spf-plus-all.test", {("SPF101", "spf-plus-all.test")}),
        ("spf-neutral-all.test", {("SPF101", "spf-neutral-all.test")}),
        ("spf-softfail-all.test", set()),
        ("spf-include-plus-all.test", {("SPF101", "_esp.spf-include-plus-all.test")}),
        ("spf-include-neutral-all.test", set()),  # ?all in an include is just "no match"
        ("spf-no-all.test", {("SPF102", "spf-no-all.test")}),
        ("spf-redirect.test", set()),  # no all, but a redirect: not SPF102
        ("spf-redirect-no-all.test", {("SPF102", "_spf.spf-redirect-no-all.test")}),
        ("spf-ptr.test", {("SPF103", "spf-ptr.test")}),
        ("spf-too-many.test", {("SPF201", "spf-too-many.test")}),
        ("spf-ten.test", {("SPF204", "spf-ten.test")}),  # exactly 10: near, not over
        ("spf-seven.test", set()),
        ("spf-void.test", {("SPF202", "spf-void.test")}),
        ("spf-void-two.test", set()),
        (
            "spf-include-nospf.test",
            {
                ("SPF203", "_notspf.spf-include-nospf.test"),
                ("SPF203", "gone.spf-include-nospf.test"),
            },
        ),
        ("spf-loop.test", {("SPF205", "spf-loop.test")}),
        ("spf-macro.test", set()),
    ],
)
def test_rule_fires_on_its_scenario_only(run_domain_check, domain, expected):
    result = run_domain_check(spf.check, domain)
    assert pairs(result) == expected
    assert result.status == Status.COMPLETED


def _shape(node: dict) -> None:
    assert set(node) == NODE_KEYS
    for child in node["children"]:
        _shape(child)


def test_facts_shape_and_tree_counts(run_domain_check):
    facts = to_json(run_domain_check(spf.check, "spf-too-many.test").facts["spf"])
    assert set(facts) == {"record", "records", "lookup_count", "void_lookup_count", "tree"}
    assert facts["lookup_count"] == 11
    assert facts["void_lookup_count"] == 0
    assert facts["records"] == [facts["record"]]
    tree = facts["tree"]
    _shape(tree)
    assert (tree["domain"], tree["via"], tree["lookups"], tree["total_lookups"]) == (
        "spf-too-many.test",
        None,
        4,
        11,
    )
    assert [(c["via"], c["lookups"], c["total_lookups"]) for c in tree["children"]] == [
        ("include:_big.spf-too-many.test", 5, 5),
        ("include:_small.spf-too-many.test", 2, 2),
    ]


def test_too_many_lookups_names_the_costly_includes(run_domain_check):
    (finding,) = run_domain_check(spf.check, "spf-too-many.test").findings
    assert "needs 11 DNS lookups" in finding.message
    assert "include:_big.spf-too-many.test (6), include:_small.spf-too-many.test (3)" in (
        finding.message
    )
    assert "Cut at least 1 lookup(s)" in finding.fix
    assert "include:_big.spf-too-many.test, include:_small.spf-too-many.test" in finding.fix
    assert any("_big.spf-too-many.test: 5 lookup(s) here" in e for e in finding.evidence)


def test_near_limit_reports_ten_of_ten(run_domain_check):
    result = run_domain_check(spf.check, "spf-ten.test")
    (finding,) = result.findings
    assert "needs 10 of 10 DNS lookups" in finding.message
    assert result.facts["spf"].lookup_count == 10


def test_permissive_all_fix_substitutes_the_qualifier(run_domain_check):
    (finding,) = run_domain_check(spf.check, "spf-plus-all.test").findings
    assert 'TXT "v=spf1 ip4:192.0.2.0/24 -all"' in finding.fix
    assert '"v=spf1 ip4:192.0.2.0/24 ~all"' in finding.fix


def test_include_with_plus_all_fix_removes_the_include(run_domain_check):
    (finding,) = run_domain_check(spf.check, "spf-include-plus-all.test").findings
    assert finding.fix.endswith('"v=spf1 -all".')


def test_no_all_fix_appends_all(run_domain_check):
    (finding,) = run_domain_check(spf.check, "spf-no-all.test").findings
    assert 'TXT "v=spf1 ip4:192.0.2.0/24 -all"' in finding.fix


def test_missing_fix_uses_mx(run_domain_check):
    (finding,) = run_domain_check(spf.check, "spf-missing.test").findings
    assert 'spf-missing.test TXT "v=spf1 mx -all"' in finding.fix
    assert run_domain_check(spf.check, "spf-missing.test").facts["spf"].tree.error


def test_multiple_fix_is_the_merged_record(run_domain_check):
    result = run_domain_check(spf.check, "spf-multiple.test")
    (finding,) = result.findings
    assert '"v=spf1 mx ip4:192.0.2.0/24 -all"' in finding.fix
    assert result.facts["spf"].record is None
    assert sorted(result.facts["spf"].records) == [
        "v=spf1 ip4:192.0.2.0/24 ~all",
        "v=spf1 mx -all",
    ]


def test_syntax_error_names_the_term(run_domain_check):
    (finding,) = run_domain_check(spf.check, "spf-syntax.test").findings
    assert "invalid IPv4 address '192.0.2.300'" in finding.message
    assert '"v=spf1 mx -all"' in finding.fix


def test_void_lookups_listed(run_domain_check):
    result = run_domain_check(spf.check, "spf-void.test")
    (finding,) = result.findings
    assert result.facts["spf"].void_lookup_count == 3
    assert "a:gone1.spf-void.test (in spf-void.test)" in finding.fix
    assert run_domain_check(spf.check, "spf-void-two.test").facts["spf"].void_lookup_count == 2


def test_loop_is_cut_and_shown(run_domain_check):
    result = run_domain_check(spf.check, "spf-loop.test")
    (finding,) = result.findings
    assert "spf-loop.test -> _a.spf-loop.test -> spf-loop.test" in finding.message
    child = result.facts["spf"].tree.children[0]
    assert child.children[0].error.startswith("loop:")
    assert finding.fix.endswith('"v=spf1 ip4:192.0.2.70 ~all".')


def test_macro_include_is_counted_not_followed(run_domain_check):
    result = run_domain_check(spf.check, "spf-macro.test")
    tree = result.facts["spf"].tree
    assert tree.lookups == 2
    (child,) = tree.children
    assert child.via == "include:%{ir}.%{v}._spf.spf-macro.test"
    assert child.children == () and "macros" in child.error


def test_mx_hosts_listed_in_term_facts(run_domain_check):
    terms = run_domain_check(spf.check, "spf-seven.test").facts["spf_terms"]
    mx = [t for t in terms if t.term == "mx"]
    assert mx[0].hosts == ("mx.spf-seven.test",)


def _check(zone: dict, domain: str):
    ctx = DomainContext(domain, Resolver(memory_backend(zone)))
    return asyncio.run(spf.check(ctx))


def test_root_timeout_is_inconclusive_never_missing():
    result = _check({"t.example.com": [("TIMEOUT", "TXT")]}, "t.example.com")
    assert pairs(result) == {("DNS001", "t.example.com")}
    assert result.status == Status.INCONCLUSIVE
    assert result.facts["spf"].record is None
    assert "TIMEOUT" in result.facts["spf"].tree.error


def test_include_servfail_is_inconclusive_not_include_without_spf():
    zone = {
        "s.example.com": [("TXT", '"v=spf1 include:esp.example.net a:h.example.net -all"')],
        "esp.example.net": [("SERVFAIL", "")],
        "h.example.net": [("TIMEOUT", "A")],
    }
    result = _check(zone, "s.example.com")
    assert pairs(result) == {("DNS001", "esp.example.net"), ("DNS001", "h.example.net")}
    assert result.status == Status.INCONCLUSIVE


class SlowBackend:
    """Wraps a backend, delaying each answer and recording how many lookups overlap."""

    def __init__(self, inner):
        self.inner = inner
        self.in_flight = 0
        self.peak = 0

    async def lookup(self, name, rdtype):
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        return await self.inner.lookup(name, rdtype)


def test_each_level_of_the_tree_is_fetched_concurrently():
    zone = {
        "wide.example.com": [
            (
                "TXT",
                '"v=spf1 include:a.example.net include:b.example.net include:c.example.net -all"',
            )
        ],
        **{f"{x}.example.net": [("TXT", '"v=spf1 ip4:192.0.2.1 -all"')] for x in "abc"},
    }
    backend = SlowBackend(memory_backend(zone))
    result = asyncio.run(spf.check(DomainContext("wide.example.com", Resolver(backend))))
    assert result.facts["spf"].lookup_count == 3
    assert backend.peak >= 3
