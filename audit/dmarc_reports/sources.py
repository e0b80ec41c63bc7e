"""Aggregate report rows grouped by sending source (IP address) for one domain.

A row of an aggregate report (RFC 7489 appendix C, RFC 9990) says: this many messages from this
IP, with this From domain, got this SPF/DKIM result and these DMARC-aligned results
(`policy_evaluated`), and the receiver applied this disposition. Summed per IP across reports and
reporters, that is who sends as the domain and how it fares.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from audit.dmarc_reports.reading import ParsedReport


@dataclass
class Source:
    """Everything the reports say about one sending IP."""

    ip: str
    messages: int = 0
    dmarc_pass: int = 0  # aligned SPF or aligned DKIM passed (policy_evaluated)
    spf_aligned_pass: int = 0
    dkim_aligned_pass: int = 0
    dispositions: Counter[str] = field(default_factory=Counter)
    reporters: Counter[str] = field(default_factory=Counter)
    header_from: Counter[str] = field(default_factory=Counter)
    envelope_from: Counter[str] = field(default_factory=Counter)
    dkim_results: Counter[str] = field(default_factory=Counter)  # "d=example.com pass"
    spf_results: Counter[str] = field(default_factory=Counter)  # "example.com fail"
    dkim_domains_passing: set[str] = field(default_factory=set)
    spf_domains_passing: set[str] = field(default_factory=set)
    overrides: Counter[str] = field(default_factory=Counter)  # forwarded, mailing_list, ...
    days: Counter[str] = field(default_factory=Counter)  # YYYY-MM-DD -> messages
    as_name: str | None = None
    country: str | None = None

    @property
    def dmarc_fail(self) -> int:
        return self.messages - self.dmarc_pass

    def add_row(self, record: dict[str, Any], reporter: str) -> None:
        count = count_of(record.get("count"))
        evaluated = _dict(record.get("policy_evaluated"))
        identifiers = _dict(record.get("identifiers"))
        auth = _dict(record.get("auth_results"))
        dkim_ok = _lower(evaluated.get("dkim")) == "pass"
        spf_ok = _lower(evaluated.get("spf")) == "pass"
        self.messages += count
        self.dmarc_pass += count if (dkim_ok or spf_ok) else 0
        self.dkim_aligned_pass += count if dkim_ok else 0
        self.spf_aligned_pass += count if spf_ok else 0
        self.dispositions[str(evaluated.get("disposition") or "none").lower()] += count
        self.reporters[reporter] += count
        self.header_from[_lower(identifiers.get("header_from"))] += count
        if identifiers.get("envelope_from"):
            self.envelope_from[_lower(identifiers.get("envelope_from"))] += count
        for reason in evaluated.get("policy_override_reasons") or []:
            kind = _dict(reason).get("type")
            if kind:
                self.overrides[str(kind).lower()] += count
        for entry in auth.get("dkim") or []:
            entry = _dict(entry)
            domain, result = _lower(entry.get("domain")), _lower(entry.get("result"))
            self.dkim_results[f"d={domain} {result}"] += count
            if result == "pass" and domain:
                self.dkim_domains_passing.add(domain)
        for entry in auth.get("spf") or []:
            entry = _dict(entry)
            domain, result = _lower(entry.get("domain")), _lower(entry.get("result"))
            self.spf_results[f"{domain} {result}"] += count
            if result == "pass" and domain:
                self.spf_domains_passing.add(domain)
        day = str(record.get("interval_begin") or "")[:10]
        if day:
            self.days[day] += count
        src = _dict(record.get("source"))
        self.as_name = self.as_name or src.get("as_name") or src.get("name")
        self.country = self.country or src.get("country")


@dataclass
class Aggregate:
    """All sources for the domain, and the policy the reporters saw published."""

    domain: str
    sources: dict[str, Source] = field(default_factory=dict)
    reports: int = 0
    reporters: Counter[str] = field(default_factory=Counter)
    policies_seen: Counter[str] = field(default_factory=Counter)  # "p=none sp=none pct=100"
    other_domains: Counter[str] = field(default_factory=Counter)  # reports about other domains
    days: Counter[str] = field(default_factory=Counter)  # YYYY-MM-DD -> messages
    days_pass: Counter[str] = field(default_factory=Counter)  # YYYY-MM-DD -> passing DMARC
    first_day: str | None = None
    last_day: str | None = None

    @property
    def messages(self) -> int:
        return sum(s.messages for s in self.sources.values())


def covers(domain: str, header_from: str) -> bool:
    """The From domain is the domain or one of its subdomains (sp= governs those)."""
    return header_from == domain or header_from.endswith("." + domain)


def aggregate(reports: list[ParsedReport], domain: str) -> Aggregate:
    """Sum the rows of every aggregate report whose From domains fall under `domain`."""
    result = Aggregate(domain)
    for parsed in reports:
        if parsed.kind != "aggregate":
            continue
        meta = _dict(parsed.data.get("report_metadata"))
        published = _dict(parsed.data.get("policy_published"))
        reporter = str(meta.get("org_name") or "unknown reporter").lower()
        rows = [
            _dict(r)
            for r in parsed.data.get("records") or []
            if covers(domain, _lower(_dict(_dict(r).get("identifiers")).get("header_from")))
        ]
        if not rows:
            result.other_domains[_lower(published.get("domain")) or "?"] += 1
            continue
        result.reports += 1
        result.reporters[reporter] += sum(count_of(r.get("count")) for r in rows)
        result.policies_seen[_policy_text(published)] += 1
        for row in rows:
            ip = str(_dict(row.get("source")).get("ip_address") or "?")
            source = result.sources.setdefault(ip, Source(ip))
            source.add_row(row, reporter)
            day = str(row.get("interval_begin") or meta.get("begin_date") or "")[:10]
            if day:
                result.days[day] += count_of(row.get("count"))
                result.days_pass[day] += count_of(row.get("count")) if _passes(row) else 0
    if result.days:
        result.first_day, result.last_day = min(result.days), max(result.days)
    return result


def _passes(row: dict[str, Any]) -> bool:
    evaluated = _dict(row.get("policy_evaluated"))
    return "pass" in (_lower(evaluated.get("dkim")), _lower(evaluated.get("spf")))


def _policy_text(published: dict[str, Any]) -> str:
    parts = [f"{k}={published[k]}" for k in ("p", "sp", "np", "pct", "adkim", "aspf")
             if published.get(k) not in (None, "")]  # fmt: skip
    return " ".join(parts) or "(no policy in the report)"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _lower(value: Any) -> str:
    return str(value or "").strip().lower().rstrip(".")


def count_of(value: Any) -> int:
    """A report's message or session count: a non-negative int, 0 for what is not one."""
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 0
