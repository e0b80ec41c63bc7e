"""Quick DKIM selector discovery (`--dkim-discovery quick`, the default for --from-file lists):
the most used names first, the rest only when those hold no key, selectors learned across the
run asked first; the DKIM check and ESP detection share its answers. What full discovery
reports that quick may not (a second key at a rarer name) is asserted as the documented
difference."""

from __future__ import annotations

import asyncio

from audit.checks.common import DomainContext
from audit.checks.domain import dkim
from audit.esp.detect import detect, run_profiles
from audit.esp.dkim_discovery import COMMON_SELECTORS, FIRST_ROUND
from audit.net.dns import Resolver, memory_backend
from audit.net.run_memo import RunMemo
from tests.conftest import pairs

KEY = '"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="'


class Counting:
    """In-memory zones, counting the questions that reach them."""

    def __init__(self, records):
        self.inner, self.asked = memory_backend(records), []

    async def lookup(self, name, rdtype):
        self.asked.append(name)
        return await self.inner.lookup(name, rdtype)


def _run(records, domain, run=None, mode="quick", **options):
    backend = Counting(records)
    ctx = DomainContext(domain, Resolver(backend), run=run, dkim_discovery=mode, **options)
    return asyncio.run(dkim.check(ctx)), backend.asked


def _keys(result):
    return sorted(k.selector for k in result.facts["dkim"].keys)


def test_a_key_among_the_most_used_names_ends_discovery():
    records = {"s1._domainkey.a.test": [("TXT", KEY)], "a.test": [("A", "192.0.2.1")]}
    result, asked = _run(records, "a.test")
    assert _keys(result) == ["s1"] and not result.findings
    guessed = [n.split(".")[0] for n in asked if n.endswith("._domainkey.a.test")]
    assert sorted(guessed) == sorted(FIRST_ROUND)  # nothing past the first round
    assert result.facts["dkim"].selectors_tried == tuple(FIRST_ROUND)
    assert "Quick discovery" in result.facts["dkim"].discovery_note


def test_a_key_at_a_rarer_name_is_found_in_the_second_round():
    records = {"mandrill._domainkey.b.test": [("TXT", KEY)]}
    result, asked = _run(records, "b.test")
    assert _keys(result) == ["mandrill"] and not result.findings
    tried = result.facts["dkim"].selectors_tried
    assert set(COMMON_SELECTORS) <= set(tried)  # every common name was asked


def test_no_key_anywhere_is_reported_as_full_discovery_does():
    records = {"c.test": [("A", "192.0.2.1")], "x._domainkey.c.test": [("TXT", '"not dkim"')]}
    quick, _ = _run(records, "c.test")
    full, _ = _run(records, "c.test", mode="full")
    assert pairs(quick) == pairs(full) == {("DKIM001", "c.test")}
    assert set(full.facts["dkim"].selectors_tried) <= set(quick.facts["dkim"].selectors_tried)


def test_a_second_key_at_a_rarer_name_is_what_quick_can_miss():
    records = {
        "s1._domainkey.d.test": [("TXT", KEY)],
        "mandrill._domainkey.d.test": [("TXT", '"v=DKIM1; k=rsa; p=bm90IGEga2V5"')],
    }
    quick, _ = _run(records, "d.test")
    full, _ = _run(records, "d.test", mode="full")
    assert _keys(full) == ["mandrill", "s1"] and ("DKIM002", "mandrill._domainkey.d.test") in pairs(
        full
    )
    assert _keys(quick) == ["s1"] and not quick.findings  # documented: README, --help


def test_selectors_found_earlier_in_the_run_are_asked_first():
    run = RunMemo()
    records = {f"{d}": [("A", "192.0.2.1")] for d in ("e.test", "f.test")}
    records |= {f"mandrill._domainkey.{d}": [("TXT", KEY)] for d in ("e.test", "f.test")}
    first, _ = _run(records, "e.test", run=run)  # found in round two, learned
    second, asked = _run(records, "f.test", run=run)
    assert _keys(first) == _keys(second) == ["mandrill"]
    assert run.dkim_selectors_found["mandrill"] == 2
    guessed = {n.split(".")[0] for n in asked if n.endswith("._domainkey.f.test")}
    assert guessed == {"mandrill", *FIRST_ROUND}  # round one (with the learned name) was enough


def test_an_empty_selector_subtree_ends_quick_discovery_too():
    records = {"g.test": [("A", "192.0.2.1")]}  # _domainkey.g.test: NXDOMAIN (RFC 8020)
    result, asked = _run(records, "g.test", dkim_selectors=["mine"])
    assert asked == ["_domainkey.g.test", "mine._domainkey.g.test"]
    assert pairs(result) == {("DKIM001", "mine._domainkey.g.test")}


def test_esp_detection_reads_the_same_answers_and_asks_no_more_selectors():
    records = {
        "h.test": [("A", "192.0.2.1")],
        "s1._domainkey.h.test": [("CNAME", "s1.domainkey.u1.wl.sendgrid.net.")],
        "s1.domainkey.u1.wl.sendgrid.net": [("TXT", KEY)],
    }
    backend = Counting(records)
    ctx = DomainContext("h.test", Resolver(backend), dkim_discovery="quick")

    async def both():
        result = await dkim.check(ctx)
        return result, await detect(ctx, await run_profiles(ctx))

    result, found = asyncio.run(both())
    assert _keys(result) == ["s1"]
    assert [(d.profile_id, d.via) for d in found.detections if d.via == "dkim-cname"] == [
        ("sendgrid", "dkim-cname")
    ]
    selector_questions = [n for n in backend.asked if n.endswith("._domainkey.h.test")]
    assert sorted(n.split(".")[0] for n in selector_questions) == sorted(FIRST_ROUND)
    assert found.selectors_tried == list(FIRST_ROUND)
