"""DKIM keys published by the domain: at the selectors the user names and at common ones.

DNS cannot list selectors, so discovery tries a built-in list of names that mail services
use; a custom selector is only found when given with --dkim-selector. The report says so.
"""

from __future__ import annotations

import asyncio

from audit.checks.common import DomainContext, temperror_finding
from audit.esp.dkim_discovery import COMMON_SELECTORS, is_quick, quick_discovery
from audit.fact_types.dkim import DkimFacts, DkimKeyFacts, DkimKeyTags
from audit.model import CheckResult, Finding, Severity, Status
from audit.net.dns import DnsAnswer, DnsStatus
from audit.records.dkim_key import DkimKey, looks_like_dkim_key, parse_dkim_key
from audit.rules.dkim import (
    DKIM_KEY_INVALID,
    DKIM_KEY_REVOKED,
    DKIM_NO_KEY,
    DKIM_TESTING,
    DKIM_WEAK_KEY,
)


def discovery_note(count: int, quick: bool = False) -> str:
    if quick:
        return (
            f"Quick discovery (domain lists) asked {count} selector names: the most used first, "
            "the rest only when those held no key; a custom selector is only found if given "
            "with --dkim-selector."
        )
    return (
        f"Discovery tries {count} common selector names; a custom selector is only found if "
        "given with --dkim-selector."
    )


async def _asked(
    ctx: DomainContext,
) -> tuple[list[tuple[str, str]], list[DnsAnswer], DnsAnswer | None]:
    """The selectors asked (name, source), their answers, and the `_domainkey` subtree answer."""
    given = list(dict.fromkeys(ctx.dkim_selectors))
    if is_quick(ctx):
        asked = await quick_discovery(ctx)
        known = await ctx.resolver.txt(f"_domainkey.{ctx.domain}")  # cached: asked by discovery
        return [(a.selector, a.source) for a in asked], [a.answer for a in asked], known
    discovered = [s for s in COMMON_SELECTORS if s not in given] if ctx.discover_dkim else []
    selectors = [(s, "given") for s in given] + [(s, "discovered") for s in discovered]
    subtree = await _selector_subtree(ctx, given, discovered)
    if subtree is not None and subtree.status is DnsStatus.NXDOMAIN and not subtree.cname_chain:
        # RFC 8020: nothing exists below a name that does not exist, so no guessed selector can
        selectors = [(s, "given") for s in given]
    names = [f"{s}._domainkey.{ctx.domain}" for s, _ in selectors]
    answers = await asyncio.gather(*(ctx.resolver.txt(n) for n in names))
    return selectors, list(answers), subtree


def _key_entry(
    selector: str, name: str, answer: DnsAnswer, source: str, txt: str | None
) -> tuple[DkimKeyFacts, DkimKey | None]:
    key = parse_dkim_key(txt) if txt is not None else None
    tags = None
    if key is not None:
        tags = DkimKeyTags(
            key.key_type, key.key_bits, key.revoked, key.testing, key.strict,
            tuple(key.hash_algorithms), {k: v for k, v in key.tags.items() if k != "p"},
            tuple(key.errors),
        )  # fmt: skip
    entry = DkimKeyFacts(
        selector, name, source, txt, tuple(answer.cname_chain), answer.status.value, tags
    )
    return entry, key


async def check(ctx: DomainContext) -> CheckResult:
    domain = ctx.domain
    given = list(dict.fromkeys(ctx.dkim_selectors))
    selectors, answers, subtree = await _asked(ctx)
    names = [f"{s}._domainkey.{domain}" for s, _ in selectors]
    keys: list[DkimKeyFacts] = []
    findings: list[Finding] = []
    inconclusive = False
    for (selector, source), name, answer in zip(selectors, names, answers, strict=True):
        if answer.temperror:
            inconclusive = True
            findings.append(temperror_finding(answer, name, "this DKIM key could not be read"))
            continue
        records = [t for t in answer.txt if looks_like_dkim_key(t)]
        if source == "discovered" and not records:
            continue  # nothing (or a wildcard / non-DKIM TXT) at a guessed name
        if source == "given" and not answer.txt:
            findings.append(
                Finding(
                    DKIM_NO_KEY,
                    name,
                    message=f"no DKIM key at {name} ({answer.status.value}), the selector you "
                    "sign with: receivers will fail every signature made with it",
                    evidence=[answer.describe()],
                    fix=f'Publish {name} TXT "v=DKIM1; k=rsa; p=<base64 public key>" with the key '
                    "your signer uses (or the CNAME your sending service gives you).",
                    severity=Severity.HIGH,
                )
            )
            continue
        texts = records or answer.txt
        if len(texts) > 1:
            findings.append(
                Finding(
                    DKIM_KEY_INVALID,
                    name,
                    message=f"{len(texts)} TXT records at {name}: receivers cannot tell which "
                    "key to use and fail the signature",
                    evidence=texts,
                    fix=f"Keep exactly one DKIM key record at {name}.",
                )
            )
        entry, key = _key_entry(selector, name, answer, source, texts[0])
        keys.append(entry)
        if key is not None:
            findings.extend(_judge(key, name))
    found_any = any(k.record for k in keys)
    if not found_any and not inconclusive and not given:
        findings.append(
            Finding(
                DKIM_NO_KEY,
                domain,
                message=f"no DKIM key found at any of {len(selectors)} common selectors of "
                f"{domain}; discovery can miss a custom selector",
                evidence=[f"tried: {', '.join(s for s, _ in selectors[:12])}, ..."],
                # the tried list grows with the selectors given: not what identifies the case
                fingerprint_key="no key at any selector tried",
                fix=f"Give the selector you sign with (--dkim-selector NAME), or publish a key at "
                f"<selector>._domainkey.{domain} and sign outgoing mail with d={domain}.",
            )
        )
    facts = {
        "dkim": DkimFacts(
            selectors_tried=tuple(s for s, _ in selectors),
            selector_subtree=subtree.status.value if subtree is not None else None,
            discovery=ctx.discover_dkim,
            discovery_note=_note(ctx, given, selectors),
            keys=tuple(keys),
        )
    }
    status = Status.INCONCLUSIVE if inconclusive and not found_any else Status.COMPLETED
    return CheckResult(facts=facts, findings=findings, status=status)


def _note(ctx: DomainContext, given: list[str], asked: list[tuple[str, str]]) -> str:
    if is_quick(ctx):
        return discovery_note(len(asked), quick=True)
    guessed = [s for s in COMMON_SELECTORS if s not in given] if ctx.discover_dkim else []
    return discovery_note(len(guessed))


async def _selector_subtree(
    ctx: DomainContext, given: list[str], discovered: list[str]
) -> DnsAnswer | None:
    """`_domainkey.<domain>` asked first when guessing: its NXDOMAIN proves no selector exists
    below it (RFC 8020), and saves the ~50 guesses. NODATA (an empty non-terminal: keys exist
    below) or an answer means guessing goes on; so does a failure (unknown is not absent)."""
    if not discovered:
        return None
    return await ctx.resolver.txt(f"_domainkey.{ctx.domain}")


def _judge(key: DkimKey, name: str) -> list[Finding]:
    if not key.valid:
        return [
            Finding(
                DKIM_KEY_INVALID,
                name,
                message=f"the DKIM key at {name} is unusable: {'; '.join(key.errors)}",
                evidence=[key.raw[:300]],
                fix=f'Republish {name} TXT "v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>" '
                "exactly as your signer exports it.",
            )
        ]
    findings = []
    if key.revoked:
        findings.append(
            Finding(
                DKIM_KEY_REVOKED,
                name,
                message=f"the key at {name} is revoked (empty p=): signatures with it fail",
                evidence=[key.raw[:300]],
                fix="If nothing signs with this selector any more, this is fine; otherwise "
                "publish the signer's current public key here.",
            )
        )
    if key.key_type == "rsa" and key.key_bits is not None and key.key_bits < 2048:
        critical = key.key_bits < 1024
        findings.append(
            Finding(
                DKIM_WEAK_KEY,
                name,
                message=f"{key.key_bits}-bit RSA key at {name}: "
                + (
                    "receivers treat signatures with keys under 1024 bits as invalid (RFC 8301)"
                    if critical
                    else "below the 2048 bits mailbox providers recommend"
                ),
                evidence=[key.raw[:300]],
                fix=f"Generate a 2048-bit RSA key, publish it at a new selector beside {name}, "
                "switch the signer to it, then revoke this one (empty p=).",
                severity=Severity.CRITICAL if critical else Severity.MEDIUM,
            )
        )
    if key.testing:
        findings.append(
            Finding(
                DKIM_TESTING,
                name,
                message=f"the key at {name} has t=y (testing): receivers may treat failures and "
                "passes alike",
                evidence=[key.raw[:300]],
                fix=f"Remove t=y from {name} once signing works.",
            )
        )
    return findings
