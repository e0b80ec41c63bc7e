"""audit fix: the DMARC rollout steps, SPF flattening from the include tree, TXT presentation."""

from __future__ import annotations

import asyncio

import pytest

from audit.fix.planner import _next_dmarc
from audit.fix.spf_flatten import flatten
from audit.net.dns import Resolver, StaticBackend
from audit.records.dmarc import parse_dmarc
from audit.spf.parser import parse_record
from audit.spf.tree import walk_tree
from reports.fix import _txt_presentation


@pytest.mark.parametrize(
    ("current", "step"),
    [
        ("v=DMARC1; p=none; rua=mailto:d@x.example",
         "v=DMARC1; p=quarantine; rua=mailto:d@x.example"),
        ("v=DMARC1; p=quarantine; pct=25; rua=mailto:d@x.example",
         "v=DMARC1; p=quarantine; pct=50; rua=mailto:d@x.example"),
        ("v=DMARC1; p=quarantine; pct=50; rua=mailto:d@x.example",
         "v=DMARC1; p=quarantine; rua=mailto:d@x.example"),
        ("v=DMARC1; p=quarantine; rua=mailto:d@x.example; ruf=mailto:f@x.example; adkim=s",
         "v=DMARC1; p=reject; rua=mailto:d@x.example; ruf=mailto:f@x.example; adkim=s"),
        ("v=DMARC1; p=reject", "v=DMARC1; p=reject; rua=mailto:dmarc-reports@x.example"),
    ],
)  # fmt: skip
def test_dmarc_rollout_one_step_keeping_rua(current, step):
    text, _, _ = _next_dmarc(current, "x.example", set())
    assert text == step
    assert parse_dmarc(text).valid


def test_flattening_replaces_the_costliest_include(zone_data):
    resolver = Resolver(StaticBackend(zone_data))

    async def run():
        return await flatten(resolver, await walk_tree(resolver, "spf-too-many.test"))

    flat = asyncio.run(run())
    assert flat is not None
    assert (flat.lookups_before, flat.lookups_after) == (11, 5)
    assert flat.replaced == ["_big.spf-too-many.test"]
    assert flat.record.startswith("v=spf1 ip4:192.0.2.32 ")
    assert "include:_small.spf-too-many.test mx a -all" in flat.record
    parse_record(flat.record)


def test_flatten_leaves_a_record_within_the_limit_alone(zone_data):
    resolver = Resolver(StaticBackend(zone_data))

    async def run():
        return await flatten(resolver, await walk_tree(resolver, "spf-ten.test"))

    assert asyncio.run(run()) is None


def test_txt_presentation_and_back():
    long = "v=spf1 " + " ".join(f"ip4:192.0.2.{i}" for i in range(40)) + ' "quoted"\\ -all'
    text = _txt_presentation(long)
    assert text.count('" "') == 2  # three strings of at most 255 bytes
    assert text.replace('" "', "").strip('"').replace('\\"', '"').replace("\\\\", "\\") == long
    assert _txt_presentation("caf\u00e9") == '"caf\\195\\169"'


def test_html_fix_it_section_escapes_dns_text():
    from audit.fix.plan import Change, FixPlan, PolicyFile
    from audit.model import Report
    from reports import render

    evil = 'v=spf1 include:x.example <script>alert(1)</script> +all'
    plan = FixPlan("x.example", [Change("x.example", "TXT", [evil], ["v=spf1 ~all"], ["SPF101"],
                                        "note <b>bold</b>")],
                   [PolicyFile("https://mta-sts.x.example/.well-known/mta-sts.txt",
                               "version: STSv1\r\nmode: testing\r\n", [])])  # fmt: skip
    report = Report("domain", "x.example", fix_plan=plan)
    html = render("html", [report])
    assert ">Fix it</h3>" in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "note &lt;b&gt;bold&lt;/b&gt;" in html
    assert '"v=spf1 ~all"' in html or "&#34;v=spf1 ~all&#34;" in html  # the zone snippet
    assert "<pre>version: STSv1\nmode: testing</pre>" in html
    assert "fix_plan" not in report.to_dict() and "fix" not in report.to_dict()
