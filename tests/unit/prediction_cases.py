"""One table of sending situations and the verdict receivers reach, read by three tests: the
shared prediction itself (test_prediction.py), `audit message` on a signed .eml over in-memory
zones, and the `audit domain` sending-path evaluation of the same situation.

A case names the From domain, the DMARC record at _dmarc.pred.test, the SPF result for the
envelope domain ("from": the From domain itself, "sub": bounces.<from>, "other": a bounce
domain in another organization), and the DKIM signatures as (result, "from" | "other").
"""

from __future__ import annotations

from dataclasses import dataclass

ORG = "pred.test"
OTHER = "esp-pred.test"  # a provider's organization
IP = "192.0.2.55"


@dataclass(frozen=True)
class Case:
    id: str
    dmarc: str | None
    spf: str  # pass | fail | softfail | none: what the envelope domain's SPF gives IP
    envelope: str  # from | sub | other
    dkim: tuple[tuple[str, str], ...]  # (pass | fail, from | other)
    result: str  # expected DMARC result
    disposition: str
    mailed_by: str | None
    signed_by: str | None
    via: str | None
    from_domain: str = ORG
    domain_path: bool = True  # expressible as a declared sending path of `audit domain`

    @property
    def envelope_domain(self) -> str:
        return {
            "from": self.from_domain,
            "sub": f"bounces.{self.from_domain}",
            "other": f"bounces.{OTHER}",
        }[self.envelope]

    def d(self, who: str) -> str:
        return self.from_domain if who == "from" else OTHER


REJECT = "v=DMARC1; p=reject"
SUB = f"bounces.{ORG}"
BOUNCE_OTHER = f"bounces.{OTHER}"

CASES = [
    Case("spf-aligned-only", REJECT, "pass", "sub", (), "pass", "none", SUB, None, None),
    Case(
        "dkim-aligned-esp-envelope", REJECT, "pass", "other", (("pass", "from"),),
        "pass", "none", BOUNCE_OTHER, ORG, None,
    ),
    Case(
        "esp-defaults", REJECT, "pass", "other", (("pass", "other"),),
        "fail", "reject", BOUNCE_OTHER, OTHER, OTHER,
    ),
    Case(
        "both-aligned-plus-esp-signature", REJECT, "pass", "sub",
        (("pass", "from"), ("pass", "other")), "pass", "none", SUB, ORG, None,
    ),
    Case(
        "nothing-passes-quarantine", "v=DMARC1; p=quarantine", "fail", "sub", (),
        "fail", "quarantine", None, None, None,
    ),
    Case(
        "aspf-strict-subdomain", "v=DMARC1; p=reject; aspf=s", "pass", "sub", (),
        "fail", "reject", SUB, None, None,
    ),
    Case(
        "adkim-strict-exact-d", "v=DMARC1; p=reject; adkim=s", "fail", "from",
        (("pass", "from"),), "pass", "none", None, ORG, None,
    ),
    Case("no-policy", None, "pass", "other", (), "none", "none", BOUNCE_OTHER, None, BOUNCE_OTHER),
    Case(
        "p-none-delivers", "v=DMARC1; p=none", "softfail", "from", (("fail", "from"),),
        "fail", "none", None, None, None,
    ),
    Case(
        "subdomain-gets-sp", "v=DMARC1; p=reject; sp=quarantine", "fail", "sub", (),
        "fail", "quarantine", None, None, None, from_domain=f"news.{ORG}",
    ),
    Case(
        "esp-signature-fails", REJECT, "pass", "other", (("fail", "other"),),
        "fail", "reject", BOUNCE_OTHER, None, BOUNCE_OTHER, domain_path=False,
    ),
]  # fmt: skip
