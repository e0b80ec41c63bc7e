"""The verdict a receiver reaches from SPF and DKIM outcomes: DMARC result, disposition, and
what Gmail displays. Pure: no DNS, no message.

`audit message` feeds it what it verified in one message, `audit domain` what each sending path
would produce, and `audit seed` compares it with what receivers wrote. One copy of the logic,
so the three can never disagree about the same inputs.

Alignment (RFC 7489 3.1, unchanged in RFC 9989 4.4): relaxed compares organizational domains
(Public Suffix List), strict the exact domains. DMARC passes when either an aligned SPF pass or
an aligned DKIM pass exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from audit.psl import organizational_domain
from audit.records.dmarc import DmarcRecord

DISPOSITION_TEXT = {
    "none": "deliver it as usual (p=none)",
    "quarantine": "treat it as suspicious: spam folder (p=quarantine)",
    "reject": "reject it (p=reject)",
}


@dataclass(frozen=True)
class AuthOutcome:
    """One authentication result and the domain it is for."""

    result: str  # pass | fail | softfail | neutral | none | permerror | temperror | ...
    domain: str | None

    @property
    def passed(self) -> bool:
        return self.result == "pass"


SpfOutcome = AuthOutcome  # SPF: the domain it was evaluated for (MAIL FROM, or HELO for <>)
DkimOutcome = AuthOutcome  # one DKIM signature: its d=


@dataclass
class DmarcPrediction:
    """The DMARC result for the From domain and what its policy asks receivers to do."""

    result: str  # pass | fail | temperror | none (no policy applies)
    policy: str | None  # the p=, sp= or np= that applies to this From domain
    disposition: str  # none | quarantine | reject: asked for failing mail
    dkim_aligned: list[str] = field(default_factory=list)  # d= of aligned passing signatures
    spf_aligned: bool = False
    adkim: str = "r"
    aspf: str = "r"
    reason: str = ""
    notes: list[str] = field(default_factory=list)  # pct= and t= (RFC 7489 vs RFC 9989)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GmailDisplay:
    """What Gmail shows beside the sender: mailed-by, signed-by, and "via DOMAIN"."""

    from_domain: str | None
    mailed_by: str | None
    signed_by: str | None
    via: str | None
    unauthenticated: bool
    reason: str

    @property
    def shows_via(self) -> bool:
        return self.via is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "from_domain": self.from_domain,
            "mailed_by": self.mailed_by,
            "signed_by": self.signed_by,
            "shows_via": self.shows_via,
            "via": self.via,
            "unauthenticated": self.unauthenticated,
            "reason": self.reason,
        }


def aligned(identifier: str | None, from_domain: str, mode: str) -> bool:
    """RFC 7489 3.1: strict (s) = the same name; relaxed (r) = the same organizational domain."""
    if not identifier:
        return False
    identifier = identifier.lower().rstrip(".")
    from_domain = from_domain.lower().rstrip(".")
    if mode == "s":
        return identifier == from_domain
    return organizational_domain(identifier) == organizational_domain(from_domain)


def applicable_policy(
    record: DmarcRecord, from_domain: str, policy_domain: str, exists: bool | None = None
) -> str | None:
    """The policy RFC 9989's reading of `record` applies (RFC 9989 4.10.1): p= for the policy
    domain itself; for a subdomain np= when it does not exist, else sp=, else p=. None when
    the record gets no DMARC processing (no valid p= and no valid rua=)."""
    return record.reading().policy_for(from_domain != policy_domain, exists)[0]


def predict_dmarc(
    from_domain: str,
    record: DmarcRecord | None,
    policy_domain: str | None,
    spf: SpfOutcome,
    dkim: Sequence[DkimOutcome],
    exists: bool | None = None,
    discarded: tuple[str, int] | None = None,
) -> DmarcPrediction:
    """DMARC for `from_domain` given the record that applies (None: no policy). `exists`: does
    the From domain exist (RFC 9989 3.2.13), when np= could apply; None when not asked.
    `discarded`: (name, count) when several records at the policy name were discarded."""
    reading = record.reading() if record is not None else None
    if record is None or policy_domain is None or reading is None or not reading.applies:
        return DmarcPrediction(
            "none",
            None,
            "none",
            dkim_aligned=[
                d.domain or "" for d in dkim if d.passed and aligned(d.domain, from_domain, "r")
            ],
            spf_aligned=spf.passed and aligned(spf.domain, from_domain, "r"),
            reason=_no_policy_reason(from_domain, reading, discarded),
        )
    policy = applicable_policy(record, from_domain, policy_domain, exists)
    dkim_ok = [
        d.domain or "" for d in dkim if d.passed and aligned(d.domain, from_domain, record.adkim)
    ]
    spf_ok = spf.passed and aligned(spf.domain, from_domain, record.aspf)
    found = DmarcPrediction(
        "pass" if dkim_ok or spf_ok else "fail",
        policy,
        "none",
        dkim_aligned=dkim_ok,
        spf_aligned=spf_ok,
        adkim=record.adkim,
        aspf=record.aspf,
    )
    if found.result == "pass":
        via = ["DKIM d=" + d for d in dkim_ok] + (["SPF " + (spf.domain or "")] if spf_ok else [])
        found.reason = "aligned pass through " + ", ".join(via)
        return found
    pending = unfinished_aligned(from_domain, record, spf, dkim)
    if pending:
        # RFC 9989 5.3.6: "If one or more DNS queries required to perform DMARC validation on
        # the message do not complete due to temporary or permanent DNS errors, the message
        # cannot be considered to pass or fail the DMARC mechanism check. In such cases, the
        # Domain Owner Assessment Policy cannot be applied to the message."
        found.result = "temperror"
        found.reason = (
            "no aligned identifier passed, and " + ", ".join(pending) + " could still pass "
            "aligned: its lookup failed, so DMARC neither passes nor fails"
        )
        return found
    found.disposition = reading.disposition(policy)
    if record.testing and found.disposition != policy:
        found.notes.append(
            f"t=y: RFC 9989 receivers apply {found.disposition}; RFC 7489 receivers ignore t "
            f"and apply {policy}"
        )
    if record.pct < 100 and policy not in (None, "none"):
        found.notes.append(
            f"pct={record.pct}: RFC 7489 receivers apply {policy} to {record.pct}% of mail; "
            "RFC 9989 receivers ignore pct"
        )
    found.reason = fail_reason(dkim, spf, from_domain, record.adkim, record.aspf)
    return found


def _no_policy_reason(
    from_domain: str, reading: Any, discarded: tuple[str, int] | None
) -> str:
    if discarded is not None:
        # RFC 7489 6.6.3 step 5: "If the remaining set contains multiple records or no
        # records, policy discovery terminates and DMARC processing is not applied to this
        # message"; RFC 9989 4.10 step 2: "If multiple DMARC Policy Records are returned, they
        # are all discarded." No policy is kept from any of them.
        name, count = discarded
        return (
            f"{count} DMARC records at _dmarc.{name}: the set is discarded and DMARC is not "
            "applied"
        )
    if reading is None:
        return f"no DMARC record for {from_domain}"
    return f"DMARC is not applied: {reading.fallback}"


def unfinished_aligned(
    from_domain: str, record: DmarcRecord, spf: SpfOutcome, dkim: Sequence[DkimOutcome]
) -> list[str]:
    """Identifiers whose check ended in temperror and that would align if they passed."""
    pending = []
    if spf.result == "temperror" and aligned(spf.domain, from_domain, record.aspf):
        pending.append(f"SPF for {spf.domain}")
    pending += [
        f"DKIM d={d.domain}"
        for d in dkim
        if d.result == "temperror" and aligned(d.domain, from_domain, record.adkim)
    ]
    return pending


def fail_reason(
    dkim: Sequence[DkimOutcome], spf: SpfOutcome, from_domain: str, adkim: str, aspf: str
) -> str:
    """Why neither identifier passed aligned, in words."""
    parts = []
    passing = [d for d in dkim if d.passed]
    if not dkim:
        parts.append("no DKIM signature")
    elif not passing:
        parts.append("no DKIM signature passes")
    else:
        parts.append(
            "DKIM passes only for d="
            + ", ".join(d.domain or "?" for d in passing)
            + f", not aligned with {from_domain} (adkim={adkim})"
        )
    if spf.passed:
        parts.append(f"SPF passes for {spf.domain}, not aligned with {from_domain} (aspf={aspf})")
    else:
        parts.append(f"SPF {spf.result}")
    return "; ".join(parts)


def gmail_display(
    from_domain: str | None, spf: SpfOutcome, dkim: Sequence[DkimOutcome]
) -> GmailDisplay:
    """Gmail shows "via" when the message authenticates only as someone else: a passing DKIM
    signature whose d= does not align with From and no aligned one, or no passing DKIM and an
    SPF domain that does not align with From. mailed-by is the SPF-passing domain, signed-by
    the aligned passing d= (else the first passing one)."""
    passing = [d for d in dkim if d.passed and d.domain]
    aligned_dkim = [d for d in passing if from_domain and aligned(d.domain, from_domain, "r")]
    signed_by = (aligned_dkim or passing)[0].domain if passing else None
    mailed_by = spf.domain if spf.passed else None
    via, reason = None, ""
    if from_domain is None:
        reason = "no single From domain"
    elif aligned_dkim:
        reason = f"DKIM passes with d={signed_by}, aligned with {from_domain}"
    elif passing:
        via = signed_by
        reason = f"the only passing DKIM signature is d={signed_by}, not {from_domain}"
    elif mailed_by and not aligned(mailed_by, from_domain, "r"):
        via = mailed_by
        reason = f"no passing DKIM signature, and SPF passes for {mailed_by}, not {from_domain}"
    elif mailed_by:
        reason = f"no passing DKIM, but SPF passes for {mailed_by}, aligned with {from_domain}"
    else:
        reason = "nothing authenticates the message: Gmail shows the unauthenticated (?) icon"
    return GmailDisplay(
        from_domain, mailed_by, signed_by, via, not passing and not mailed_by, reason
    )
