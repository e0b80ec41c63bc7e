"""Terminal output: header, verdict and counts, per-check status, findings worst first with
rule id, target, evidence and fix; plain text unless colour is asked for; hostile text inert."""

from __future__ import annotations

import asyncio
import re

import pytest

from audit.domain_audit import audit_domain
from audit.model import CheckOutcome, Finding, Report, Severity, Status
from audit.net.dns import StaticBackend
from audit.rules.spf import SPF_NO_ALL, SPF_PERMISSIVE_ALL
from reports import render


@pytest.fixture(scope="module")
def domain_reports(zone_data) -> dict[str, Report]:
    backend = StaticBackend(zone_data)
    domains = ("clean.test", "spf-too-many.test", "spf-no-all.test")

    async def run() -> dict[str, Report]:
        return {d: await audit_domain(d, backend) for d in domains}

    return asyncio.run(run())


def one_check_report(*findings: Finding, status=Status.COMPLETED, error=None) -> Report:
    outcome = CheckOutcome("spf", "a.test", status, findings=list(findings), error=error)
    return Report("domain", "a.test", [outcome])


def test_failing_domain_names_rule_target_evidence_fix_and_verdict(domain_reports):
    text = render("terminal", [domain_reports["spf-too-many.test"]])
    lines = text.splitlines()
    assert lines[0] == "domain spf-too-many.test"
    assert lines[1].startswith("FAIL  ")
    assert "  spf           completed    1 finding(s)" in lines
    assert "  sending_paths completed" in lines  # the column is as wide as the longest name
    assert "  SPF201 spf-too-many-lookups  spf-too-many.test" in lines
    assert "    | spf-too-many.test: 4 lookup(s) here, 11 with descendants" in lines
    assert "    fix: Cut at least 1 lookup(s) from the policy of spf-too-many.test." in text
    assert "\x1b" not in text  # no colour unless asked


def test_clean_domain_passes(domain_reports):
    text = render("terminal", [domain_reports["clean.test"]])
    assert text.splitlines()[1].startswith("PASS  no findings  (fail-on high;")
    assert "fix:" not in text


def test_findings_are_grouped_worst_first(domain_reports):
    text = render("terminal", [domain_reports["spf-too-many.test"]])
    order = re.findall(r"^(CRITICAL|HIGH|MEDIUM|LOW|INFO) \(\d+\)$", text, re.MULTILINE)
    assert order == sorted(order, key=["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"].index)
    assert order[0] == "HIGH"
    assert text.index("HIGH (") < text.index("SPF201") < text.index("MEDIUM (")


def test_counts_are_listed_worst_first():
    report = one_check_report(
        Finding(SPF_NO_ALL, "a.test", "m"),  # medium
        Finding(SPF_PERMISSIVE_ALL, "a.test", "m", severity=Severity.CRITICAL),
        Finding(SPF_NO_ALL, "a.test", "m", severity=Severity.INFO),
    )
    assert (
        render("terminal", [report])
        .splitlines()[1]
        .startswith("FAIL  1 critical, 1 medium, 1 info  (")
    )


def test_verdict_follows_fail_on():
    report = one_check_report(Finding(SPF_NO_ALL, "a.test", "no all"))  # medium
    assert render("terminal", [report]).splitlines()[1].startswith("PASS  1 medium")
    strict = render("terminal", [report], fail_on="medium").splitlines()[1]
    assert strict.startswith("FAIL  1 medium  (fail-on medium;")
    assert render("terminal", [report], fail_on=Severity.LOW).splitlines()[1].startswith("FAIL")


def test_inconclusive_and_error_checks_say_so():
    report = one_check_report(status=Status.ERROR, error="RuntimeError: boom")
    text = render("terminal", [report])
    # a crashed check is a bug in the tool, told apart from "could not decide" (exit 4)
    assert text.splitlines()[1].startswith("ERROR  no findings")
    assert "  spf          error        error: RuntimeError: boom" in text.splitlines()
    timed_out = render("terminal", [one_check_report(status=Status.INCONCLUSIVE, error="t/o")])
    assert timed_out.splitlines()[1].startswith("INCONCLUSIVE  no findings")
    skipped = render("terminal", [one_check_report(status=Status.SKIPPED, error="no IP given")])
    assert "  spf          skipped      reason: no IP given" in skipped.splitlines()
    assert skipped.splitlines()[1].startswith("PASS")


def test_several_reports_one_after_another(domain_reports):
    text = render("terminal", list(domain_reports.values()))
    heads = [line for line in text.splitlines() if line.startswith("domain ")]
    assert heads == ["domain clean.test", "domain spf-too-many.test", "domain spf-no-all.test"]


def test_lines_fit_the_width(domain_reports):
    for width in (60, 100):
        text = render("terminal", list(domain_reports.values()), width=width)
        assert max(len(line) for line in text.splitlines()) <= width
        assert all(line == line.rstrip() for line in text.splitlines())


def test_colour_only_when_asked(domain_reports):
    report = domain_reports["spf-too-many.test"]
    coloured = render("terminal", [report], color=True)
    assert "\x1b[" in coloured
    assert "SPF201" in coloured and "FAIL" in coloured


def test_hostile_text_is_shown_not_obeyed():
    evil = "\x1b]0;owned\x07\x1b[2J[bold red]x[/bold red]\rfake\u202egnp.exe"
    finding = Finding(SPF_PERMISSIVE_ALL, evil, evil, [evil, "line1\nline2"], fix=evil)
    report = Report("domain", evil, [CheckOutcome("spf", evil, Status.ERROR, [], [finding], evil)])
    for color in (False, True):
        text = render("terminal", [report], color=color, width=200)
        assert "\x07" not in text and "\r" not in text and "\u202e" not in text
        assert "\x1b]" not in text and "\x1b[2J" not in text
        assert "\\x1b]0;owned\\x07\\x1b[2J[bold red]x[/bold red]\\x0dfake\\u202egnp.exe" in text
    plain = render("terminal", [report], width=200)
    assert "    | line1" in plain and "    | line2" in plain


def test_long_evidence_is_cut_with_a_pointer():
    finding = Finding(SPF_NO_ALL, "a.test", "m", [f"line {n}" for n in range(12)], fix="do it")
    text = render("terminal", [one_check_report(finding)])
    assert "    | line 7" in text and "line 8" not in text
    assert "    | ... 4 more line(s) in --format json/html" in text
    assert "    fix: do it" in text
