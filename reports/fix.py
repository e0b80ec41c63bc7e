"""`audit fix` output: a zone-file snippet, a provider-neutral table (name, type, old, new),
the policy files to serve, and the warnings; as terminal text, JSON or the bare zone snippet."""

from __future__ import annotations

from audit.fix.plan import Change, FixPlan
from audit.json_document import dumps
from audit.model import SCHEMA_VERSION
from reports.visible import visible

FIX_FORMATS = ("terminal", "json", "zone")
TTL = 3600


def _txt_presentation(value: str) -> str:
    """One TXT record as zone-file strings: 255-byte chunks, quotes and backslashes escaped,
    bytes outside printable ASCII as \\DDD (RFC 1035 5.1)."""
    data = value.encode("utf-8")
    chunks = []
    for start in range(0, len(data), 255) or [0]:
        out = []
        for byte in data[start : start + 255]:
            if byte in (0x22, 0x5C):
                out.append("\\" + chr(byte))
            elif 0x20 <= byte < 0x7F:
                out.append(chr(byte))
            else:
                out.append(f"\\{byte:03d}")
        chunks.append('"' + "".join(out) + '"')
    return " ".join(chunks)


def _rdata(change: Change, value: str) -> str:
    return _txt_presentation(value) if change.rtype == "TXT" else value


def _why(change) -> str:
    """What a change is for when it clears no finding (a parked domain's null MX, say)."""
    return change.note or "declares the domain's intent"


def zone_snippet(plan: FixPlan) -> str:
    lines = [
        f"; audit fix {plan.domain}: each block is the WHOLE record set for its name and type",
        "; (replace what is published there; records kept unchanged are repeated)",
    ]
    for change in plan.changes:
        lines.append(f"; clears {', '.join(change.clears) or '(no finding: ' + _why(change) + ')'}")
        for value in change.new:
            lines.append(f"{change.name}. {TTL} IN {change.rtype} {_rdata(change, value)}")
    return "\n".join(lines) + "\n"


def render_fix(fmt: str, plan: FixPlan) -> str:
    if fmt == "json":
        document = {"schema_version": SCHEMA_VERSION, **plan.to_dict()}
        return dumps(document)
    if fmt == "zone":
        return zone_snippet(plan)
    if fmt != "terminal":
        raise ValueError(f"unknown fix format {fmt!r} (choose from {', '.join(FIX_FORMATS)})")
    out = [visible(f"fix {plan.domain}: {len(plan.changes)} record change(s), "
                   f"{len(plan.files)} policy file(s)")]  # fmt: skip
    if plan.changes:
        out += ["", "RECORDS (name, type, old -> new)"]
        for c in plan.changes:
            out += [
                visible(f"  {c.name} {c.rtype}   clears {', '.join(c.clears) or _why(c)}"),
                visible(f"    old: {c.old_value}"),
                visible(f"    new: {c.new_value}"),
            ]
            if c.note:
                out.append(visible(f"    note: {c.note}"))
            if c.leaves:
                out.append(visible(f"    leaves: {', '.join(c.leaves)} (the next step's finding)"))
        out += ["", "ZONE FILE SNIPPET"] + visible(zone_snippet(plan)).rstrip("\n").split("\n")
    for f in plan.files:
        out += ["", visible(f"POLICY FILE {f.url} (lines end in CRLF)")]
        out += [visible(line) for line in f.text.splitlines()]
        if f.note:
            out.append(visible(f"  note: {f.note}"))
    if plan.warnings:
        out += ["", "WARNINGS"] + [visible(f"  {w}") for w in plan.warnings]
    if not plan.changes and not plan.files and not plan.warnings:
        out += ["", "nothing to change: no finding this command knows how to fix"]
    return "\n".join(out) + "\n"
