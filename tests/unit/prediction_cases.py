"""One table of sending situations and the verdict receivers reach, read by three tests: the
shared prediction itself (test_prediction.py), `audit message` on a signed .eml over in-memory
zones, and the `audit domain` sending-path evaluation of the same situation.

A case names the From domain, the DMARC record at _dmarc.pred.test, the SPF result for the
envelope domain ("from": the From domain itself, "sub": bounces.<from>, "other": a bounce
domain in another organization), and the DKIM signatures as (result, "from" | "other").

"temperror" for SPF: the envelope's record includes a name whose lookup times out; for DKIM:
the signature's key lookup times out. `extra_dmarc`: a second record at _dmarc.pred.test (the
set is discarded). `reason`: words all three consumers must give for the verdict.
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
    spf: str  # pass | fail | softfail | none | temperror: what the envelope's SPF gives IP
    envelope: str  # from | sub | other
    dkim: tuple[tuple[str, str], ...]  # (pass | fail | temperror, from | other)
    result: str  # expected DMARC result
    disposition: str
    mailed_by: str | None
    signed_by: str | None
    via: str | None
    from_domain: str = ORG
    domain_path: bool = True  # expressible as a declared sending path of `audit domain`
    extra_dmarc: str | None = None
    reason: str | None = None

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
    # RFC 9989 5.3.6 (the path prediction once made any lookup failure temperror, unlike the
    # message verdict): an aligned pass still passes; an aligned identifier whose lookup
    # failed, with nothing else passing aligned, leaves DMARC at temperror
    Case(
        "dkim-aligned-pass-spf-temperror", REJECT, "temperror", "sub", (("pass", "from"),),
        "pass", "none", None, ORG, None, reason="aligned pass through DKIM d=pred.test",
    ),
    Case(
        "spf-temperror-nothing-else-aligned", REJECT, "temperror", "sub", (),
        "temperror", "none", None, None, None,
        reason="SPF for bounces.pred.test could still pass aligned",
    ),
    Case(
        "dkim-key-temperror-spf-aligned-pass", REJECT, "pass", "sub", (("temperror", "from"),),
        "pass", "none", SUB, None, None, reason="aligned pass through SPF bounces.pred.test",
    ),
    Case(
        "dkim-key-temperror-nothing-else", REJECT, "fail", "sub", (("temperror", "from"),),
        "temperror", "none", None, None, None,
        reason="DKIM d=pred.test could still pass aligned",
    ),
    # several records (fixture dmarc-multiple.test does the same): the path check once said
    # "no DMARC record", the domain check DMARC002 and the message "the set is discarded"
    Case(
        "several-dmarc-records", REJECT, "pass", "other", (), "none", "none", BOUNCE_OTHER,
        None, BOUNCE_OTHER, extra_dmarc="v=DMARC1; p=none",
        reason="2 DMARC records at _dmarc.pred.test: the set is discarded",
    ),
]  # fmt: skip
