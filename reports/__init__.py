"""Renderers: one Report model, several faces. The engine never imports this package."""

from __future__ import annotations

from audit.model import Report, Severity

FORMATS = ("terminal", "json", "html", "sarif", "junit", "markdown", "jsonl")


def render(
    fmt: str,
    reports: list[Report],
    *,
    color: bool = False,
    width: int = 100,
    fail_on: Severity | str = Severity.HIGH,
) -> str:
    """The text of `reports` in `fmt`; the CLI writes it to stdout or --output.

    `fail_on` is the CLI's --fail-on threshold: the PASS/FAIL verdict shown uses it, so it
    agrees with the exit code. JSON carries no verdict and ignores it.
    """
    if fmt == "json":
        from reports.json_report import render_json

        return render_json(reports)
    if fmt == "jsonl":
        from reports.jsonl import render_jsonl

        return render_jsonl(reports)
    if fmt == "html":
        from reports.html import render_html

        return render_html(reports, fail_on=fail_on)
    if fmt == "sarif":
        from reports.sarif import render_sarif

        return render_sarif(reports, fail_on=fail_on)
    if fmt == "junit":
        from reports.junit import render_junit

        return render_junit(reports, fail_on=fail_on)
    if fmt == "markdown":
        from reports.markdown import render_markdown

        return render_markdown(reports, fail_on=fail_on)
    if fmt == "terminal":
        from reports.terminal import render_terminal

        return render_terminal(reports, color=color, width=width, fail_on=fail_on)
    raise ValueError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
