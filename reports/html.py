"""HTML: one self-contained file (inline CSS, no scripts, no external resources).

Everything shown comes from DNS or messages, which attackers control: Jinja2 autoescaping is
on for every value and nothing is marked safe.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from audit.model import Report
from reports.verdict import by_severity, verdict

TEMPLATES = Path(__file__).parent / "templates"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pretty_json"] = lambda value: json.dumps(
        value, indent=2, ensure_ascii=False, default=str
    )
    return env


def spf_tree(report: Report) -> dict[str, Any] | None:
    for outcome in report.outcomes:
        if outcome.check == "spf":
            spf = outcome.facts.get("spf")
            if isinstance(spf, dict) and isinstance(spf.get("tree"), dict):
                return spf["tree"]
    return None


def render_html(reports: list[Report]) -> str:
    template = _environment().get_template("report.html.j2")
    views = [
        {
            "report": r,
            "verdict": verdict(r),
            "groups": by_severity(r),
            "counts": r.counts(),
            "spf_tree": spf_tree(r),
        }
        for r in reports
    ]
    title = "audit: " + ", ".join(r.target for r in reports)
    return template.render(title=title, views=views)
