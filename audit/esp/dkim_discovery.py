"""Quick DKIM selector discovery for domain lists (`--dkim-discovery quick`).

DNS cannot list selectors, so full discovery asks ~50 common names (and ESP detection ~20 that
providers use) at every domain: in a batch run that is most of the DNS questions and of the CPU.
Quick discovery asks in two rounds and stops after the first that finds a key:

1. the selectors given, the selectors this run has already found keys at (most often first,
   learned across the domains of the run), and the handful of names most domains use;
2. only when round 1 found no key: every other common name and every name an ESP profile lists
   (so a domain without any key is reported as it is by full discovery: all names tried).

The DKIM check and ESP detection read the same answers (the names round 1 asked, plus round 2's
when it ran): a second key or a provider's CNAMEd selector beside the key found first can go
unseen, which is why quick is the default only for `--from-file` lists (README, --help).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from audit.esp.profiles import EspProfile, load_profiles
from audit.net.dns import DnsAnswer, DnsStatus
from audit.records.dkim_key import looks_like_dkim_key
from audit.run_context import RunContext

COMMON_SELECTORS = (
    "default", "dkim", "mail", "email", "smtp", "k1", "k2", "k3", "s1", "s2", "s1024", "s2048",
    "selector1", "selector2", "google", "mandrill", "mxvault", "everlytickey1", "everlytickey2",
    "dk", "key1", "key2", "sig1", "zoho", "amazonses", "protonmail", "protonmail2", "protonmail3",
    "fm1", "fm2", "fm3", "mailjet", "smtpapi", "pm", "mg", "mta", "krs", "ctct1", "ctct2", "hs1",
    "hs2", "cm", "turbo-smtp", "sendgrid", "ovh", "mailo", "x", "200608",
)  # fmt: skip

# The names most domains sign with (Google Workspace, Microsoft 365, common defaults), asked
# first; learned selectors come before them.
FIRST_ROUND = ("google", "selector1", "selector2", "default", "k1", "s1", "s2", "dkim", "mail")
LEARNED_FIRST = 8  # learned selectors asked in round 1


@dataclass(frozen=True)
class Asked:
    """One selector asked: where its name came from, and the answer."""

    selector: str
    source: str  # "given" | "discovered"
    answer: DnsAnswer


async def run_profiles(ctx: RunContext) -> dict[str, EspProfile]:
    """The profiles of this run (built-ins plus --esp-profiles), loaded once per domain run.
    Raises ProfileError for a bad file (the command line checks this before the run)."""

    async def load() -> dict[str, EspProfile]:
        return load_profiles(Path(ctx.esp_profiles_dir) if ctx.esp_profiles_dir else None)

    return await ctx.once(("esp-profiles",), load)


def is_quick(ctx: RunContext) -> bool:
    return ctx.dkim_discovery == "quick" and ctx.discover_dkim


async def quick_discovery(ctx: RunContext) -> list[Asked]:
    """The two rounds (given selectors first), once per domain: the DKIM check and ESP
    detection share the result. Stops early on the subtree's NXDOMAIN (RFC 8020)."""
    return await ctx.once(("dkim-quick-discovery",), lambda: _discover(ctx))


async def _candidates(ctx: RunContext) -> list[str]:
    """Every name full discovery would ask: the common ones, then the ESP profiles' own."""
    profiles = await run_profiles(ctx)
    listed = (s for p in profiles.values() for s in p.literal_selectors())
    return list(dict.fromkeys([*COMMON_SELECTORS, *listed]))


async def _discover(ctx: RunContext) -> list[Asked]:
    given = list(dict.fromkeys(ctx.dkim_selectors))
    guesses = [s for s in await _candidates(ctx) if s not in given]
    subtree = await ctx.resolver.txt(f"_domainkey.{ctx.domain}")
    if subtree.status is DnsStatus.NXDOMAIN and not subtree.cname_chain:
        guesses = []  # RFC 8020: nothing exists below a name that does not exist
    learned = ctx.run.dkim_selectors_found if ctx.run is not None else Counter()
    known = [s for s, _ in learned.most_common() if s in guesses][:LEARNED_FIRST]
    first = list(dict.fromkeys([*known, *(s for s in FIRST_ROUND if s in guesses)]))
    rest = [s for s in guesses if s not in first]
    asked = await _ask(ctx, [(s, "given") for s in given] + [(s, "discovered") for s in first])
    if not any(_has_key(a) for a in asked):
        asked += await _ask(ctx, [(s, "discovered") for s in rest])
    for item in asked:
        if item.source == "discovered" and _has_key(item):
            learned[item.selector] += 1
    return asked


async def _ask(ctx: RunContext, selectors: list[tuple[str, str]]) -> list[Asked]:
    names = [f"{s}._domainkey.{ctx.domain}" for s, _ in selectors]
    answers = await asyncio.gather(*(ctx.resolver.txt(n) for n in names))
    return [Asked(s, src, a) for (s, src), a in zip(selectors, answers, strict=True)]


def _has_key(asked: Asked) -> bool:
    return any(looks_like_dkim_key(t) for t in asked.answer.txt)
