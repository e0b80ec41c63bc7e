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
    assert placement.inbox == 1 and placement.inbox_rate == 1.0


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
    assert (row.inbox, row.spam, row.missing, row.unknown) == (1, 1, 1, 2)
    assert row.inbox_rate == round(1 / 3, 3)


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


def test_interrupted_send_without_a_copy_is_unknown_not_failed() -> None:
    obs = SeedObservation("s1@seeds.test", send_status="interrupted")
    outcomes = confirm([obs], None, "good.test")
    assert _pairs(outcomes) == [("SEED002", "s1@seeds.test")]
    seed = next(o for o in outcomes if o.check == "seed s1@seeds.test")
    assert seed.status is Status.INCONCLUSIVE
    assert seed.facts["seed"].placement == "unknown"


def test_unreadable_mailbox_is_unknown_placement_not_missing() -> None:
    obs = SeedObservation("s1@seeds.test", collect_error="connection refused")
    outcomes = confirm([obs], None, "good.test")
    assert _pairs(outcomes) == [("SEED001", "s1@seeds.test")]
    assert outcomes[1].facts["seed"].placement == "unknown"


def test_copy_without_a_receiver_verdict_is_seed003() -> None:
    empty = Report(
        kind="message",
        target="copy",
        outcomes=[CheckOutcome("receiver", "copy", Status.COMPLETED, facts={"receiver": {}})],
    )
    obs = SeedObservation("s1@seeds.test", folder="INBOX", placement="inbox", message_report=empty)
    outcomes = confirm([obs], None, "good.test")
    assert _pairs(outcomes) == [("SEED003", "s1@seeds.test")]
    assert outcomes[1].status is Status.INCONCLUSIVE


def test_two_signatures_at_one_seed_are_not_held_against_each_other() -> None:
    report = _copy_report()
    receiver = report.outcomes[0].facts["receiver"]["receiver"]
    receiver["dkim"] = [
        {"result": "pass", "properties": {"header.d": "good.test", "header.s": "rsa1"}},
        {"result": "neutral", "properties": {"header.d": "good.test", "header.s": "ed1"}},
    ]
    obs = SeedObservation("a@r.test", folder="INBOX", placement="inbox", message_report=report)
    outcomes = confirm([obs], _domain_report(), "good.test")
    assert not any(o.check == "receivers" and o.findings for o in outcomes)


def test_an_inconclusive_domain_audit_predicts_nothing() -> None:
    domain = _domain_report()
    domain.outcomes[0].status = Status.INCONCLUSIVE
    obs = SeedObservation(
        "s1@seeds.test", folder="INBOX", placement="inbox", message_report=_copy_report()
    )
    outcomes = confirm([obs], domain, "good.test")
    assert _pairs(outcomes) == []
    assert outcomes[-1].status is Status.INCONCLUSIVE


def _domain_with_key(selector: str = "s1") -> Report:
    report = _domain_report()
    key = {
        "selector": selector,
        "name": f"{selector}._domainkey.good.test",
        "key_type": "rsa",
        "key_bits": 2048,
        "record": "v=DKIM1; p=MII",
        "revoked": False,
        "errors": [],
    }
    report.outcomes.append(
        CheckOutcome("dkim", "good.test", Status.COMPLETED, facts={"dkim": {"keys": [key]}})
    )
    return report


def test_a_failing_signature_under_a_valid_published_key_is_a_contradiction() -> None:
    copy = _copy_report(dkim=("fail",), dmarc="fail")
    copy.outcomes[0].facts["receiver"]["receiver"]["dkim"][0]["properties"]["header.s"] = "s1"
    obs = SeedObservation("s1@seeds.test", folder="INBOX", placement="inbox", message_report=copy)
    outcomes = confirm([obs], _domain_with_key(), "good.test")
    contradiction = [f for f in outcomes[-1].findings if f.rule.id == "SEED406"]
    assert [f.target for f in contradiction] == ["s1@seeds.test"]
    assert "found a valid key at s1._domainkey.good.test" in contradiction[0].message


def test_a_passing_signature_confirms_the_key() -> None:
    obs = SeedObservation(
        "s1@seeds.test", folder="INBOX", placement="inbox", message_report=_copy_report()
    )
    assert confirm([obs], _domain_with_key(), "good.test")[-1].findings == []
