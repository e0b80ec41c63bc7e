"""The Sending paths table every renderer shows: one row per path, from the sending_paths
check's typed facts (rebuilt by facts_of when the report came back from JSON; their strings
come from DNS, so renderers escape them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from audit.fact_json import facts_of
from audit.fact_types.sending_paths import PathRow as PathFacts
from audit.fact_types.sending_paths import SendingPathsFacts
from audit.model import Report


@dataclass
class PathRow:
    name: str
    origin: str
    provider: str
    envelope: str
    spf: str
    spf_aligned: str
    dkim: str
    dkim_aligned: str
    dmarc: str
    disposition: str
    mailed_by: str
    signed_by: str
    via: str
    bounces: str
    css: str  # ok | bad | other
    fixes: list[str] = field(default_factory=list)

    def cells(self) -> list[str]:
        return [
            self.name, self.origin, self.envelope, self.spf, self.spf_aligned, self.dkim,
            self.dkim_aligned, self.dmarc, self.disposition, self.mailed_by, self.signed_by,
            self.via, self.bounces,
        ]  # fmt: skip


HEADERS = [
    "path", "origin", "envelope", "spf", "spf aligned", "dkim", "dkim aligned", "dmarc",
    "disposition", "mailed-by", "signed-by", "via", "bounces",
]  # fmt: skip


def _s(value: Any, empty: str = "–") -> str:
    if value is None or value == "":
        return empty
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def path_rows(report: Report) -> list[PathRow]:
    rows: list[PathRow] = []
    for outcome in report.outcomes if report.kind == "domain" else []:
        if outcome.check != "sending_paths":
            continue
        facts = facts_of(outcome.facts, "sending_paths", SendingPathsFacts)
        rows += [_row(p) for p in facts.paths] if facts else []
    return rows


def _row(p: PathFacts) -> PathRow:
    spf_align = p.alignment.spf
    readings = {_s(spf_align.rfc7489), _s(spf_align.rfc9989)}
    spf_aligned = (
        readings.pop()
        if len(readings) == 1
        else f"RFC 7489: {_s(spf_align.rfc7489)}, RFC 9989: {_s(spf_align.rfc9989)}"
    )
    d = p.dkim.d
    dmarc = _s(p.dmarc, "inconclusive" if p.inconclusive else "–")
    provider = _s(p.provider, "")
    gmail = p.gmail
    return PathRow(
        name=_s(p.name) + (f" ({provider})" if provider else ""),
        origin=_s(p.origin),
        provider=provider,
        envelope=_s(p.envelope_domain),
        spf=_s(p.spf.result),
        spf_aligned=spf_aligned,
        dkim=_s(p.dkim.state) + (f" d={', '.join(map(str, d))}" if d else ""),
        dkim_aligned=_s(p.alignment.dkim),
        dmarc=dmarc,
        disposition=_s(p.disposition),
        mailed_by=_s(gmail.mailed_by if gmail else None),
        signed_by=_s(gmail.signed_by if gmail else None),
        via=_s(gmail.via if gmail else None, "no"),
        bounces=_s(p.bounces_ok),
        css={"pass": "ok", "fail": "bad"}.get(dmarc, "other"),
        fixes=list(p.fixes),
    )
