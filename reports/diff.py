"""`audit diff` output: terminal text, JSON and a self-contained HTML page of a Drift."""

from __future__ import annotations

from audit.drift import Drift, FindingChange
from audit.json_document import dumps
from audit.model import SCHEMA_VERSION
from reports.visible import visible

DIFF_FORMATS = ("terminal", "json", "html")


def _line(sign: str, c: FindingChange) -> str:
    f = c.finding
    return visible(
        f"  {sign} {f.rule.id} {f.rule.name} [{f.effective_severity.value}] {f.target}"
        f" ({c.scope}): {f.message}"
    )


def render_diff_terminal(d: Drift) -> str:
    out = [
        visible(f"audit diff {d.before_label} .. {d.after_label}"),
        f"{len(d.new)} new, {len(d.resolved)} resolved, {len(d.unchanged)} unchanged finding(s); "
        f"{len(d.dns)} DNS answer(s) changed",
    ]
    targets = (("targets added", d.targets_added), ("targets removed", d.targets_removed))
    for title, items in targets:
        if items:
            out.append(visible(f"{title}: {', '.join(items)}"))
    if d.new:
        out += ["", "NEW"] + [_line("+", c) for c in d.new]
    if d.resolved:
        out += ["", "RESOLVED"] + [_line("-", c) for c in d.resolved]
    if d.dns:
        out += ["", "DNS CHANGED"]
        for c in d.dns:
            out += [
                visible(f"  {c.name} {c.rdtype}"),
                visible(f"    before: {c.before}"),
                visible(f"    after:  {c.after}"),
            ]
    if not d.changed:
        out += ["", "no change"]
    return "\n".join(out) + "\n"


def render_diff(fmt: str, d: Drift) -> str:
    if fmt == "json":
        document = {"schema_version": SCHEMA_VERSION, **d.to_dict()}
        return dumps(document)
    if fmt == "html":
        from reports.html import environment

        return environment().get_template("diff.html.j2").render(d=d)
    if fmt == "terminal":
        return render_diff_terminal(d)
    raise ValueError(f"unknown diff format {fmt!r} (choose from {', '.join(DIFF_FORMATS)})")
