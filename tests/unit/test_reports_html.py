"""HTML output: one self-contained, autoescaped file. Everything shown comes from DNS or a
message, so attacker-chosen text must arrive as text, never as markup."""

from __future__ import annotations

import asyncio
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from audit.domain_audit import audit_domain
from audit.model import CheckOutcome, Finding, QueryRecord, Report, Severity, Status
from audit.net.dns import StaticBackend
from audit.rules.spf import SPF_NO_ALL, SPF_PERMISSIVE_ALL
from reports import render
from reports.html import environment

EVIL = '<script>alert(1)</script>"><img src=x onerror=alert(1)>&'
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(1)&gt;&amp;"
# the same text inside the pretty-printed JSON facts: the quote is JSON-escaped first
ESCAPED_IN_JSON = ESCAPED.replace("&#34;", "\\&#34;")
TEMPLATE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "main", "footer", "section",
    "nav", "article", "h2", "h3", "div", "span", "b", "a", "p", "code", "pre", "ul", "li",
    "table", "tr", "th", "td", "details", "summary",
}  # fmt: skip
PLACES = (
    "report-target", "check-target", "check-error", "finding-target", "message", "evidence",
    "fix", "tree-domain", "tree-via", "tree-record", "tree-error", "child-record", "query-name",
    "answer", "query-error",
)  # fmt: skip


def evil(place: str) -> str:
    return f"{place}={EVIL}"


def evil_report() -> Report:
    """Hostile text in every place DNS data reaches the page."""
    child = {
        "domain": "x.test", "via": evil("tree-via"), "record": evil("child-record"),
        "lookups": 0, "total_lookups": 0, "void_lookups": 0, "error": None, "children": [],
    }  # fmt: skip
    tree = {
        "domain": evil("tree-domain"), "via": None, "record": evil("tree-record"),
        "lookups": 1, "total_lookups": 1, "void_lookups": 0, "error": evil("tree-error"),
        "children": [child],
    }  # fmt: skip
    finding = Finding(
        SPF_PERMISSIVE_ALL,
        evil("finding-target"),
        message=evil("message"),
        evidence=[evil("evidence"), "AT&T said \"hi\" & 'bye'"],
        fix=evil("fix"),
    )
    facts = {"spf": {"tree": tree, evil("facts-key"): evil("facts-value")}}
    spf = CheckOutcome("spf", evil("check-target"), Status.COMPLETED, facts, [finding])
    broken = CheckOutcome("dkim", "evil.test", Status.ERROR, error=evil("check-error"))
    query = QueryRecord(
        evil("query-name"), "TXT", "NOERROR", (f'"{evil("answer")}"',), 1.0, evil("query-error")
    )
    return Report("domain", evil("report-target"), [spf, broken], [query], tool_version="0")


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)


def parsed(html: str) -> TagCollector:
    collector = TagCollector()
    collector.feed(html)
    return collector


@pytest.fixture(scope="module")
def domain_reports(zone_data) -> dict[str, Report]:
    backend = StaticBackend(zone_data)
    domains = ("clean.test", "spf-too-many.test", "spf-void.test", "spf-loop.test")

    async def run() -> dict[str, Report]:
        return {d: await audit_domain(d, backend) for d in domains}

    return asyncio.run(run())


def test_hostile_dns_data_is_escaped_everywhere():
    html = render("html", [evil_report()])
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert not re.search(r"<[^>]*onerror", html)
    for place in PLACES:
        assert f"{place}={ESCAPED}" in html, place
    assert f"facts-key={ESCAPED_IN_JSON}" in html
    assert f"facts-value={ESCAPED_IN_JSON}" in html
    assert "AT&amp;T said &#34;hi&#34; &amp; &#39;bye&#39;" in html
    assert "AT&T" not in html


def test_hostile_data_adds_no_tags_or_attributes():
    page = parsed(render("html", [evil_report()]))
    assert page.tags <= TEMPLATE_TAGS
    assert not {a for a in page.attributes if a.startswith("on")}
    assert page.attributes <= {"lang", "charset", "name", "content", "http-equiv", "class", "id",
                               "href", "title", "style", "open"}  # fmt: skip


def test_hidden_characters_are_spelled_out():
    finding = Finding(SPF_NO_ALL, "a.test", "bidi \u202egnp.exe and \x1b[31m and \x00", ["ok"])
    report = Report("domain", "a.test", [CheckOutcome("spf", "a.test", Status.COMPLETED,
                                                      findings=[finding])])  # fmt: skip
    html = render("html", [report])
    assert "\u202e" not in html and "\x1b" not in html and "\x00" not in html
    assert "bidi \\u202egnp.exe and \\x1b[31m and \\x00" in html


def test_autoescape_is_on_and_templates_never_mark_data_safe():
    env = environment()
    template = env.from_string("{{ x }}")
    assert template.render(x="<b>&</b>") == "&lt;b&gt;&amp;&lt;/b&gt;"
    assert env.get_template("report.html.j2").render(views=[], title="<i>").count("<i>") == 0
    for path in (Path(__file__).resolve().parents[2] / "reports").rglob("*"):
        if path.suffix in (".j2", ".py"):
            text = path.read_text(encoding="utf-8")
            assert "|safe" not in text.replace(" ", ""), path
            assert "Markup(" not in text, path


def test_self_contained(domain_reports):
    html = render("html", list(domain_reports.values()))
    assert html.startswith("<!doctype html>")
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html
    assert "default-src 'none'" in html  # CSP: no scripts, no remote loads
    assert {a for a in parsed(html).attributes if a == "href"} == {"href"}
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', html))


def test_summary_checks_findings_and_fix(domain_reports):
    html = render("html", [domain_reports["spf-too-many.test"]])
    assert '<div class="verdict FAIL"' in html
    assert '<span class="chip"><b class="high">' in html
    assert '<span class="status completed">completed</span>' in html
    assert '<code class="rule-id">SPF201</code>' in html
    assert '<span class="target">spf-too-many.test</span>' in html
    assert "<pre>spf-too-many.test: 4 lookup(s) here, 11 with descendants\n" in html
    assert '<span class="label">Fix:</span><span class="text">Cut at least 1 lookup(s)' in html
    # worst first: every high finding before the first medium one
    assert html.rindex('<article class="finding high">') < html.index(
        '<article class="finding medium">'
    )


def test_spf_include_tree_with_lookup_counts(domain_reports):
    html = render("html", [domain_reports["spf-too-many.test"]])
    tree = html[html.index('<ul class="tree">') : html.index('id="report-1-queries"')]
    assert "DNS lookups: <b>11</b> of 10 allowed" in html
    assert '<div class="spf-total over">' in html
    assert '<code class="name">spf-too-many.test</code>' in tree
    assert '<span class="pill">11 lookups in total</span>' in tree
    assert '<code class="name">include:_big.spf-too-many.test</code>' in tree
    assert '<span class="pill">6 lookups for this branch</span>' in tree
    assert '<span class="pill">3 lookups for this branch</span>' in tree
    assert tree.count("<ul>") == 1  # two children nested one level under the root
    assert "v=spf1 a:h1.spf-too-many.test mx:spf-too-many.test ~all" in tree


def test_spf_tree_void_lookups_and_loop(domain_reports):
    void = render("html", [domain_reports["spf-void.test"]])
    assert '<span class="void-over">void lookups: 3 of 2 allowed</span>' in void
    loop = render("html", [domain_reports["spf-loop.test"]])
    assert '<code class="name">include:spf-loop.test</code>' in loop
    assert '<span class="node-error">loop: spf-loop.test -&gt; _a.spf-loop.test' in loop


def test_no_tree_section_without_spf_facts():
    report = Report("message", "m.eml", [CheckOutcome("dkim", "m.eml", Status.COMPLETED)])
    html = render("html", [report])
    assert "SPF include tree" not in html
    assert "No findings" in html and "No DNS queries were made." in html


def test_malformed_tree_facts_do_not_break_the_page():
    tree = {"domain": 5, "lookups": "many", "children": ["x", {"via": None}, None]}
    outcome = CheckOutcome("spf", "a.test", Status.COMPLETED, {"spf": {"tree": tree}})
    html = render("html", [Report("domain", "a.test", [outcome])])
    assert '<code class="name">5</code>' in html
    assert "DNS lookups: <b>0</b> of 10 allowed" in html


def test_dns_queries_table(domain_reports):
    html = render("html", [domain_reports["spf-too-many.test"]])
    table = html[html.index('id="report-1-queries"') : html.index('id="report-1-facts"')]
    assert "<th>name</th><th>type</th><th>status</th><th>answers</th>" in table
    assert '<td class="qname">_dmarc.spf-too-many.test</td>' in table
    assert '<span class="q-status absent">NXDOMAIN</span>' in table
    assert (
        "<code>&#34;v=spf1 include:_big.spf-too-many.test include:_small.spf-too-many.test"
        " mx a -all&#34;</code>" in table
    )
    assert "<details>" in table  # folded when nothing failed


def test_failed_queries_unfold_the_table():
    queries = [QueryRecord("t.test", "TXT", "TIMEOUT", (), 5000.0, "Timeout")]
    html = render("html", [Report("domain", "t.test", [], queries)])
    assert 'DNS queries <span class="n">(1, 1 failed)</span>' in html
    assert "<details open>" in html
    assert (
        '<span class="q-status failed">TIMEOUT</span><div class="check-error">Timeout</div>' in html
    )


def test_facts_are_pretty_json(domain_reports):
    html = render("html", [domain_reports["spf-too-many.test"]])
    assert "<summary>spf</summary>" in html
    assert "  &#34;spf&#34;: {\n    &#34;record&#34;: &#34;v=spf1 include:_big" in html


def test_several_reports_one_file_one_section_each(domain_reports):
    reports = list(domain_reports.values())
    html = render("html", reports)
    assert html.count("<!doctype html>") == 1
    assert html.count('<section class="card report"') == len(reports)
    assert '<section class="card" id="overview">' in html
    for index, report in enumerate(reports, start=1):
        assert f'<a href="#report-{index}">{report.target}</a>' in html
        assert f'<section class="card report" id="report-{index}">' in html
    assert (
        "<title>audit: clean.test, spf-too-many.test, spf-void.test, spf-loop.test</title>" in html
    )
    single = render("html", reports[:1])
    assert 'id="overview"' not in single


def test_verdicts_and_threshold():
    finding = Finding(SPF_NO_ALL, "a.test", "no all")  # medium
    report = Report("domain", "a.test", [CheckOutcome("spf", "a.test", Status.COMPLETED,
                                                      findings=[finding])])  # fmt: skip
    assert '<div class="verdict PASS"' in render("html", [report])
    assert '<div class="verdict FAIL"' in render("html", [report], fail_on=Severity.MEDIUM)
    errored = Report("domain", "b.test", [CheckOutcome("mx", "b.test", Status.ERROR,
                                                       error="RuntimeError: boom")])  # fmt: skip
    html = render("html", [errored])
    assert '<div class="verdict ERROR"' in html  # a crashed check: exit 4, not inconclusive
    assert '<span class="status error">error</span>' in html
    assert '<span class="check-note error">RuntimeError: boom</span>' in html
    skipped = Report("message", "m.eml", [CheckOutcome("spf", "m.eml", Status.SKIPPED,
                                                       error="no connecting IP")])  # fmt: skip
    assert '<span class="check-note skipped">no connecting IP</span>' in render("html", [skipped])
