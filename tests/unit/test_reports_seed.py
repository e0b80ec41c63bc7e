"""The seed report's tables in HTML and terminal: placement, receiver verdicts, escaping."""

from __future__ import annotations

from audit.model import Report
from audit.seed.confirm import SeedObservation, confirm
from reports import render


def _report() -> Report:
    observations = [
        SeedObservation("inbox@seeds.test", folder="INBOX", placement="inbox", delay_s=1.25),
        SeedObservation("spam@seeds.test", folder="<script>alert(1)</script>", placement="spam"),
        SeedObservation("gone@seeds.test", provider="gmail"),
    ]
    return Report(
        kind="seed",
        target="news@good.test (run 1)",
        outcomes=confirm(observations, None, "good.test"),
    )


def test_html_has_the_seed_and_placement_tables_escaped() -> None:
    html = render("html", [_report()], fail_on="high")
    assert 'id="report-1-seeds"' in html
    assert "<td>inbox@seeds.test</td>" in html and "1.2 s" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # placement per provider: generic 1 inbox + 1 spam (50%), gmail 1 missing (0%)
    assert "50.0%" in html and "0.0%" in html
    # no copy carried a receiver verdict: the report must not claim they all matched
    assert "Every receiver verdict matched the prediction." not in html
    assert "No receiver verdict could be compared" in html


def test_terminal_lists_every_seed_with_its_placement() -> None:
    text = render("terminal", [_report()], fail_on="high")
    lines = {line.split()[0]: line for line in text.splitlines() if "@seeds.test " in line}
    assert "inbox" in lines["inbox@seeds.test"] and "1.2 s" in lines["inbox@seeds.test"]
    assert "spam" in lines["spam@seeds.test"]
    assert "missing" in lines["gone@seeds.test"]


def test_terminal_lists_confirmed_predictions() -> None:
    from audit.model import CheckOutcome, Status

    receiver = {"receiver": {"spf": {"result": "pass"}, "dkim": [], "dmarc": None}}
    receiver["comparison"] = [
        {"method": "spf", "subject": "smtp.mailfrom=x.test", "receiver": "pass", "ours": "pass",
         "agree": True, "note": ""},
    ]  # fmt: skip
    copy = Report(
        kind="message",
        target="copy",
        outcomes=[CheckOutcome("receiver", "copy", Status.COMPLETED, facts={"receiver": receiver})],
    )
    obs = SeedObservation("s1@seeds.test", folder="INBOX", placement="inbox", message_report=copy)
    report = Report(kind="seed", target="t", outcomes=confirm([obs], None, "x.test"))
    text = render("terminal", [report], fail_on="high")
    assert "predictions: 1 confirmed by the receivers, 0 contradicted" in text
    assert "confirmed: s1@seeds.test: SPF smtp.mailfrom=x.test: pass" in text
