"""Seed confirmation logic on hand-made observations (the loopback run is in integration)."""

from __future__ import annotations

from audit.model import CheckOutcome, Report, Status
from audit.seed.confirm import SeedObservation, confirm


def _copy_report(spf="pass", dkim=("pass",), dmarc="pass", comparison=(), policy="reject"):
    receiver = {
        "authserv_ids": ["mx.seeds.test"],
        "spf": {"result": spf, "mailfrom": "news@good.test", "client_ip": "127.0.0.1"},
        "dkim": [{"result": r, "properties": {"header.d": "good.test"}} for r in dkim],
        "dmarc": {"result": dmarc, "comments": [f"p={policy.upper()} dis=NONE"], "reason": None},
        "arc": None,
    }
    outcome = CheckOutcome(
        "receiver",
        "copy",
        Status.COMPLETED,
        facts={"receiver": {"receiver": receiver, "comparison": list(comparison)}},
    )
    return Report(kind="message", target="copy", outcomes=[outcome])


def _domain_report(p="reject"):
    facts = {"dmarc": {"parsed": {"p": p}}}
    return Report(
        kind="domain",
        target="good.test",
        outcomes=[CheckOutcome("dmarc", "good.test", Status.COMPLETED, facts=facts)],
    )


def _pairs(outcomes):
    return sorted((f.rule.id, f.target) for o in outcomes for f in o.findings)


def test_clean_inbox_copy_has_no_findings_and_counts_as_inbox() -> None:
    obs = SeedObservation(
        "s1@seeds.test", folder="INBOX", placement="inbox", message_report=_copy_report()
    )
    outcomes = confirm([obs], _domain_report(), "good.test")
    assert _pairs(outcomes) == []
    placement = outcomes[0].facts["placement"]["generic"]
    assert placement["inbox"] == 1 and placement["inbox_rate"] == 1.0


def test_each_rule_fires_on_its_seed() -> None:
    contradiction = {
        "method": "dkim",
        "subject": "d=good.test",
        "receiver": "fail",
        "ours": "pass",
        "agree": False,
        "note": "",
    }
    observations = [
        SeedObservation("missing@seeds.test"),
        SeedObservation("failed@seeds.test", send_status="failed", send_error="550 no"),
        SeedObservation("locked@seeds.test", collect_error="login failed"),
        SeedObservation(
            "junk@seeds.test",
            folder="Junk",
            placement="spam",
            message_report=_copy_report(
                spf="softfail", dkim=("fail",), dmarc="fail", comparison=[contradiction]
            ),
        ),
        SeedObservation(
            "ok@seeds.test", folder="INBOX", placement="inbox", message_report=_copy_report()
        ),
    ]
    outcomes = confirm(observations, _domain_report(), "good.test")
    assert _pairs(outcomes) == sorted(
        [
            ("SEED401", "missing@seeds.test"),
            ("SEED407", "failed@seeds.test"),
            ("SEED001", "locked@seeds.test"),
            ("SEED402", "junk@seeds.test"),
            ("SEED403", "junk@seeds.test"),
            ("SEED404", "junk@seeds.test"),
            ("SEED405", "junk@seeds.test"),
            ("SEED406", "junk@seeds.test"),
            # DKIM and DMARC passed at ok@ and failed at junk@: receivers disagree
            ("SEED406", "DKIM d=good.test"),
            ("SEED406", "DMARC"),
            ("SEED406", "SPF"),
        ]
    )
    row = outcomes[0].facts["placement"]["generic"]
    assert (row["inbox"], row["spam"], row["missing"], row["unknown"]) == (1, 1, 1, 2)
    assert row["inbox_rate"] == round(1 / 3, 3)


def test_receiver_policy_other_than_the_domain_audit_is_a_contradiction() -> None:
    obs = SeedObservation(
        "s1@seeds.test",
        folder="INBOX",
        placement="inbox",
        message_report=_copy_report(policy="none"),
    )
    outcomes = confirm([obs], _domain_report(p="reject"), "good.test")
    assert _pairs(outcomes) == [("SEED406", "s1@seeds.test")]
    assert "p=reject" in outcomes[-1].findings[0].message


def test_interrupted_send_is_not_judged_as_failed() -> None:
    obs = SeedObservation("s1@seeds.test", send_status="interrupted")
    assert _pairs(confirm([obs], None, "good.test")) == []
