"""The Sending paths table every renderer shows: one row per path, read defensively from the
sending_paths check's facts (they may come back from JSON, and their strings from DNS)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


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
        paths = _d(outcome.facts.get("sending_paths")).get("paths")
        for raw in paths if isinstance(paths, list) else []:
            rows.append(_row(_d(raw)))
    return rows


def _row(p: dict[str, Any]) -> PathRow:
    spf, dkim, gmail = _d(p.get("spf")), _d(p.get("dkim")), _d(p.get("gmail"))
    align = _d(p.get("alignment"))
    spf_align = _d(align.get("spf"))
    readings = {_s(spf_align.get("rfc7489")), _s(spf_align.get("rfc9989"))}
    spf_aligned = (
        readings.pop()
        if len(readings) == 1
        else f"RFC 7489: {_s(spf_align.get('rfc7489'))}, RFC 9989: {_s(spf_align.get('rfc9989'))}"
    )
    d = v if isinstance(v := dkim.get("d"), list) else []
    dmarc = _s(p.get("dmarc"), "inconclusive" if p.get("inconclusive") else "–")
    fixes = v if isinstance(v := p.get("fixes"), list) else []
    provider = _s(p.get("provider"), "")
    return PathRow(
        name=_s(p.get("name")) + (f" ({provider})" if provider else ""),
        origin=_s(p.get("origin")),
        provider=provider,
        envelope=_s(p.get("envelope_domain")),
        spf=_s(spf.get("result")),
        spf_aligned=spf_aligned,
        dkim=_s(dkim.get("state")) + (f" d={', '.join(map(str, d))}" if d else ""),
        dkim_aligned=_s(align.get("dkim")),
        dmarc=dmarc,
        disposition=_s(p.get("disposition")),
        mailed_by=_s(gmail.get("mailed_by")),
        signed_by=_s(gmail.get("signed_by")),
        via=_s(gmail.get("via"), "no"),
        bounces=_s(p.get("bounces_ok")),
        css={"pass": "ok", "fail": "bad"}.get(dmarc, "other"),
        fixes=[str(f) for f in fixes],
    )
