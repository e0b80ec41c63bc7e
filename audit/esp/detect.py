"""Which sending providers a domain's DNS shows it uses, and the record each finding rests on.

DNS cannot list a domain's names, so detection looks where providers ask their customers to
publish: the SPF include tree (the SPF check's own walk, shared through the run), the
`_domainkey` records of the selectors the profiles name and the user gives (a CNAME into a
provider's DKIM host), return-path-like names (the literal names the profiles list plus common
ones; `em1234` cannot be guessed) CNAMEd into a provider or with its MX, and the domain's MX
hosts (mailbox providers). Every lookup goes through the run's one resolver, all at once; the
DKIM TXT and MX answers are the same cached ones the DKIM and MX checks read.

Quick return-path discovery (`--return-path-discovery quick`, the default for `--from-file`
lists): the return-path guesses are most of detection's questions, so a list run reads the other
records first and asks the same return-path names only when they show a provider whose profile
has a custom return path (or when one of them could not be read); a provider seen only through
its return path then goes unseen. A declared path (`--esp postmark`, a `[[path]]` table) through
such a provider that gives no return path of its own asks them all, as full discovery does: its
sending-path check takes the return path from detection. Deterministic per domain: nothing is
learned across the run.

A lookup that times out or SERVFAILs is reported in `failed`: detection is then inconclusive for
what that record would have shown, never "not detected".
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from audit.esp.dkim_discovery import is_quick, quick_discovery
from audit.esp.dkim_discovery import run_profiles as run_profiles  # where the checks find it
from audit.esp.profiles import (
    EspProfile,
    profile_for_dkim_target,
    profile_for_include,
    profile_for_mx,
    profile_for_return_path_target,
)
from audit.fact_types.esp import EspDetection
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

    def as_facts(self) -> EspDetection:
        return EspDetection(self.profile_id, self.via, self.name, self.record, dict(self.detail))

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


async def detect_providers(ctx: RunContext, profiles: dict[str, EspProfile]) -> list[Detection]:
    """The providers the domain's DNS shows, each with the record it rests on (see `detect`
    for the failed lookups that make the answer inconclusive)."""
    return (await detect(ctx, profiles)).detections


async def detect(ctx: RunContext, profiles: dict[str, EspProfile]) -> DetectionResult:
    """Detection, memoized per run: the ESP check and the sending-path checks share it."""
    return await ctx.once(("esp-detect",), lambda: _detect(ctx, profiles))


async def _detect(ctx: RunContext, profiles: dict[str, EspProfile]) -> DetectionResult:
    selectors = list(
        dict.fromkeys(
            [*ctx.dkim_selectors, *(s for p in profiles.values() for s in p.literal_selectors())]
        )
    )
    rp_names = return_path_names(profiles)
    records = asyncio.gather(
        domain_tree(ctx), ctx.resolver.query(ctx.domain, "MX"), _dkim_answers(ctx, selectors)
    )
    if ctx.return_path_discovery == "quick" and not _declared_return_path_wanted(ctx, profiles):
        tree, mx, (selectors, dkim) = await records
        found, failed = _from_records(tree, mx, selectors, dkim, profiles)
        if not _return_path_shown(found, [*failed, mx], tree, profiles):
            rp_names = []
        returns = await _return_path_answers(ctx, rp_names)
    else:
        (tree, mx, (selectors, dkim)), returns = await asyncio.gather(
            records, _return_path_answers(ctx, rp_names)
        )
        found, failed = _from_records(tree, mx, selectors, dkim, profiles)
    for answer in returns:
        found += _from_return_path(answer, profiles, failed)
    failed += [mx] if mx.temperror else []  # reported after the return paths' failures
    return DetectionResult(
        detections=_ordered(found, profiles),
        failed=failed,
        selectors_tried=selectors,
        return_path_names_tried=rp_names,
    )


def return_path_names(profiles: dict[str, EspProfile]) -> list[str]:
    """The return-path labels detection asks MX at: the profiles' literal names, then ours."""
    listed = (n for p in profiles.values() if p.return_path for n in p.return_path.literal_names())
    return list(dict.fromkeys([*listed, *RETURN_PATH_NAMES]))


async def _return_path_answers(ctx: RunContext, labels: list[str]) -> list[DnsAnswer]:
    names = [f"{label}.{ctx.domain}" for label in labels]
    return list(await asyncio.gather(*(ctx.resolver.query(n, "MX") for n in names)))


def _from_records(
    tree: SpfTree, mx: DnsAnswer, selectors: list[str], dkim: list[DnsAnswer], profiles
) -> tuple[list[Detection], list[DnsAnswer]]:
    """What the SPF tree, the DKIM answers and the domain's MX show, and the failed SPF and
    DKIM lookups (a failed MX lookup is the caller's: it is reported last)."""
    failed: list[DnsAnswer] = []
    found = _from_spf(tree, profiles, failed)
    for selector, answer in zip(selectors, dkim, strict=True):
        found += _from_dkim(selector, answer, profiles, failed)
    return found + _from_mx(mx, profiles), failed


def _return_path_shown(
    found: list[Detection], read: list[DnsAnswer], tree: SpfTree, profiles
) -> bool:
    """Quick return-path discovery (domain lists): ask the return-path names only when the
    other records show a provider that offers a custom return path, or when one of them could
    not be read (a failed lookup or an SPF tree cut short may hide such a provider)."""
    if tree.truncated or any(a.temperror for a in read):
        return True
    return any(profiles[d.profile_id].return_path is not None for d in found)


def _declared_return_path_wanted(ctx: RunContext, profiles: dict[str, EspProfile]) -> bool:
    """A declared path through a provider that offers a custom return path, giving none of its
    own: the sending-path check fills it from detection (facts/paths.py with_detected), so quick
    discovery must not leave it unasked (the path would be judged on the provider's default
    envelope, e.g. Postmark without a `pm-bounces` CNAME, SES without its MAIL FROM domain)."""
    return any(
        not path.return_path
        and (profile := profiles.get(path.esp or "")) is not None
        and profile.return_path is not None
        for path in ctx.sending_paths
    )


async def _dkim_answers(ctx: RunContext, selectors: list[str]) -> tuple[list[str], list[DnsAnswer]]:
    """The `_domainkey` TXT answers of `selectors`; with quick discovery (domain lists), those
    of the names it asked instead (esp/dkim_discovery.py): the same answers the DKIM
    check reads, no more questions."""
    if is_quick(ctx):
        asked = await quick_discovery(ctx)
        return [a.selector for a in asked], [a.answer for a in asked]
    names = [f"{s}._domainkey.{ctx.domain}" for s in selectors]
    return selectors, list(await asyncio.gather(*(ctx.resolver.txt(n) for n in names)))


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


def _from_mx(answer: DnsAnswer, profiles) -> list[Detection]:
    """The domain's MX hosts: a mailbox provider, or (the domain being itself a provider's
    bounce domain, as with a custom MAIL FROM) a provider's return-path MX."""
    if answer.temperror:
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
