"""Which sending providers a domain's DNS shows it uses, and the record each finding rests on.

DNS cannot list a domain's names, so detection looks where providers ask their customers to
publish: the SPF include tree (the SPF check's own walk, shared through the run), the
`_domainkey` records of the selectors the profiles name and the user gives (a CNAME into a
provider's DKIM host), return-path-like names (the literal names the profiles list plus common
ones; `em1234` cannot be guessed) CNAMEd into a provider or with its MX, and the domain's MX
hosts (mailbox providers). Every lookup goes through the run's one resolver, all at once; the
DKIM TXT and MX answers are the same cached ones the DKIM and MX checks read.

A lookup that times out or SERVFAILs is reported in `failed`: detection is then inconclusive for
what that record would have shown, never "not detected".
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit.esp.profiles import (
    EspProfile,
    load_profiles,
    profile_for_dkim_target,
    profile_for_include,
    profile_for_mx,
    profile_for_return_path_target,
)
from audit.net.dns import DnsAnswer
from audit.run_context import RunContext
from audit.spf.tree import SpfTree, domain_tree

# Names under the domain that providers commonly use as the custom return path (bounce domain),
# tried beside the literal names the profiles list.
RETURN_PATH_NAMES = (
    "bounce", "bounces", "mail", "pm-bounces", "em", "mg", "email", "send", "smtp", "rp", "mta",
    "return", "mailer", "mailfrom", "mail-from", "envelope",
)  # fmt: skip

VIAS = ("spf-include", "dkim-cname", "return-path-cname", "return-path-mx", "mx")


@dataclass(frozen=True)
class Detection:
    """One provider seen in one record."""

    profile_id: str
    via: str  # "spf-include" | "dkim-cname" | "return-path-cname" | "return-path-mx" | "mx"
    name: str  # the DNS name of the record it rests on
    record: str  # that record verbatim: 'example.com TXT "v=spf1 include:sendgrid.net ~all"'
    detail: dict[str, str] = field(default_factory=dict)  # {"selector": "s1", "target": ...}

    def as_dict(self) -> dict[str, Any]:
        return {
            "profile_id": self.profile_id,
            "via": self.via,
            "name": self.name,
            "record": self.record,
            "detail": dict(self.detail),
        }


@dataclass
class DetectionResult:
    """Everything detection saw: the detections, the lookups that failed (inconclusive), and
    the names it tried (DNS cannot list names: the report says where it looked)."""

    detections: list[Detection]
    failed: list[DnsAnswer]
    selectors_tried: list[str]
    return_path_names_tried: list[str]

    @property
    def provider_ids(self) -> list[str]:
        return list(dict.fromkeys(d.profile_id for d in self.detections))

    def for_provider(self, profile_id: str) -> list[Detection]:
        return [d for d in self.detections if d.profile_id == profile_id]


async def run_profiles(ctx: RunContext) -> dict[str, EspProfile]:
    """The profiles of this run (built-ins plus --esp-profiles), loaded once per domain run.
    Raises ProfileError for a bad file (the command line checks this before the run)."""

    async def load() -> dict[str, EspProfile]:
        return load_profiles(Path(ctx.esp_profiles_dir) if ctx.esp_profiles_dir else None)

    return await ctx.once(("esp-profiles",), load)


async def detect_providers(ctx: RunContext, profiles: dict[str, EspProfile]) -> list[Detection]:
    """The providers the domain's DNS shows, each with the record it rests on (see `detect`
    for the failed lookups that make the answer inconclusive)."""
    return (await detect(ctx, profiles)).detections


async def detect(ctx: RunContext, profiles: dict[str, EspProfile]) -> DetectionResult:
    """Detection, memoized per run: the ESP check and the sending-path checks share it."""
    return await ctx.once(("esp-detect",), lambda: _detect(ctx, profiles))


async def _detect(ctx: RunContext, profiles: dict[str, EspProfile]) -> DetectionResult:
    domain = ctx.domain
    selectors = list(
        dict.fromkeys(
            [*ctx.dkim_selectors, *(s for p in profiles.values() for s in p.literal_selectors())]
        )
    )
    rp_names = list(
        dict.fromkeys(
            [
                *(
                    n
                    for p in profiles.values()
                    if p.return_path
                    for n in p.return_path.literal_names()
                ),
                *RETURN_PATH_NAMES,
            ]
        )
    )
    dkim_names = [f"{s}._domainkey.{domain}" for s in selectors]
    return_names = [f"{n}.{domain}" for n in rp_names]
    tree, mx, dkim, returns = await asyncio.gather(
        domain_tree(ctx),
        ctx.resolver.query(domain, "MX"),
        asyncio.gather(*(ctx.resolver.txt(n) for n in dkim_names)),
        asyncio.gather(*(ctx.resolver.query(n, "MX") for n in return_names)),
    )
    found: list[Detection] = []
    failed: list[DnsAnswer] = []
    found += _from_spf(tree, profiles, failed)
    for selector, answer in zip(selectors, dkim, strict=True):
        found += _from_dkim(selector, answer, profiles, failed)
    for answer in returns:
        found += _from_return_path(answer, profiles, failed)
    found += _from_mx(mx, profiles, failed)
    return DetectionResult(
        detections=_ordered(found, profiles),
        failed=failed,
        selectors_tried=selectors,
        return_path_names_tried=rp_names,
    )


def _from_spf(tree: SpfTree, profiles: dict[str, EspProfile], failed: list[DnsAnswer]):
    """Every include (at any depth) of a provider's include domain, and a redirect= to one
    (`v=spf1 redirect=_spf.google.com` hands the whole policy over), on the record naming it."""
    found = []
    for node in tree.nodes:
        if node.kind == "temperror" and node.answer is not None:
            failed.append(node.answer)  # the includes below it are unknown, not absent
        if node.record is None:
            continue
        for child in node.children:
            kind = (child.via or "").split(":", 1)[0].split("=", 1)[0]
            if kind not in ("include", "redirect"):
                continue
            profile = profile_for_include(profiles, child.domain)
            if profile is None:
                continue
            found.append(
                Detection(
                    profile.id,
                    "spf-include",
                    node.domain,
                    f'{node.domain} TXT "{node.record}"',
                    {kind: child.domain},
                )
            )
    return found


def _from_dkim(selector: str, answer: DnsAnswer, profiles, failed: list[DnsAnswer]):
    """A `_domainkey` name CNAMEd (at any hop) into a provider's DKIM host."""
    found = _cname_into(answer, lambda t: profile_for_dkim_target(profiles, t), "dkim-cname")
    if found is None and answer.temperror:
        failed.append(answer)
    return [_with(found, selector=selector)] if found else []


def _from_return_path(answer: DnsAnswer, profiles, failed: list[DnsAnswer]):
    """A return-path-like name CNAMEd into a provider, or with a provider's MX host."""
    found = _cname_into(
        answer,
        lambda t: profile_for_return_path_target(profiles, t, "CNAME"),
        "return-path-cname",
    )
    if found is not None:
        return [_with(found, return_path=answer.name)]
    if answer.temperror:
        failed.append(answer)
        return []
    if answer.cname_chain:
        return []  # an MX found through someone else's CNAME is not this name's return path
    return _return_path_mx(answer, profiles)


def _cname_into(answer: DnsAnswer, profile_of, via: str) -> Detection | None:
    """The first hop of the answer's CNAME chain that points into a provider, as a Detection
    resting on the name's own CNAME record (its first hop)."""
    for target in answer.cname_chain:
        profile = profile_of(target)
        if profile is not None:
            record = f"{answer.name} CNAME {answer.cname_chain[0]}."
            return Detection(profile.id, via, answer.name, record, {"target": target})
    return None


def _with(found: Detection, **detail: str) -> Detection:
    return Detection(found.profile_id, found.via, found.name, found.record,
                     {**detail, **found.detail})  # fmt: skip


def _return_path_mx(answer: DnsAnswer, profiles) -> list[Detection]:
    found = []
    for preference, host in _exchanges(answer):
        profile = profile_for_return_path_target(profiles, host, "MX")
        if profile is not None:
            found.append(
                Detection(
                    profile.id,
                    "return-path-mx",
                    answer.name,
                    f"{answer.name} MX {preference} {host}.",
                    {"return_path": answer.name, "target": host},
                )
            )
    return found


def _from_mx(answer: DnsAnswer, profiles, failed: list[DnsAnswer]) -> list[Detection]:
    """The domain's MX hosts: a mailbox provider, or (the domain being itself a provider's
    bounce domain, as with a custom MAIL FROM) a provider's return-path MX."""
    if answer.temperror:
        failed.append(answer)
        return []
    found = []
    for preference, host in _exchanges(answer):
        profile = profile_for_mx(profiles, host)
        if profile is not None:
            found.append(
                Detection(
                    profile.id,
                    "mx",
                    answer.name,
                    f"{answer.name} MX {preference} {host}.",
                    {"host": host},
                )
            )
    if not answer.cname_chain:
        found += _return_path_mx(answer, profiles)
    return found


def _exchanges(answer: DnsAnswer) -> list[tuple[int, str]]:
    out = []
    for rd in answer.rdata:
        exchange = getattr(rd, "exchange", None)
        if exchange is None:
            continue
        host = exchange.to_text().rstrip(".").lower()
        if host:
            out.append((int(rd.preference), host))
    return out


def _ordered(found: list[Detection], profiles: dict[str, EspProfile]) -> list[Detection]:
    """One of each, grouped by provider (in profile order), then by kind of record."""
    unique = list({(d.profile_id, d.via, d.name, d.record): d for d in found}.values())
    order = {pid: i for i, pid in enumerate(profiles)}
    return sorted(unique, key=lambda d: (order.get(d.profile_id, 0), VIAS.index(d.via), d.name))
