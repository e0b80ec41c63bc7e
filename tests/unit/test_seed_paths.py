"""Which path `audit seed run --path/--esp` goes through, how it sends there, and how the
path's prediction is held against the receivers' verdicts (pure parts of audit/seed/paths.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from audit.config import parse_config
from audit.fact_json import from_json
from audit.fact_types.sending_paths import PathRow
from audit.seed.paths import path_checks, predicted, resolve_path, via_for

KNOWN = ["mailgun", "postmark", "sendgrid"]
CONFIG = parse_config(
    '[[path]]\nname = "relay"\nips = ["192.0.2.1"]\nsmtp = "smtp.x.test:587"\n'
    '[[path]]\nname = "news"\nesp = "mailgun"\n'
)


def test_resolve_and_via():
    relay = resolve_path("relay", None, CONFIG, KNOWN)
    assert (relay.origin, relay.ips, via_for(relay, "x.test")) == (
        "config",
        ("192.0.2.1",),
        "smtp://smtp.x.test:587",
    )
    assert via_for(resolve_path("news", None, CONFIG, KNOWN), "x.test") == "mailgun:x.test"
    assert via_for(resolve_path(None, "sendgrid", None, KNOWN), "x.test") == "sendgrid:"
    assert resolve_path(None, None, CONFIG, KNOWN) is None


@pytest.mark.parametrize(
    ("name", "esp", "config", "says"),
    [
        ("nope", None, CONFIG, "--path 'nope' is not a [[path]] of the project config (known: "
                               "relay, news)"),
        ("relay", None, None, "known: none: no audit.toml"),
        (None, "nosuch", None, "--esp 'nosuch' is not a known provider"),
        ("relay", "sendgrid", CONFIG, "either --path or --esp"),
    ],
)  # fmt: skip
def test_bad_path_choice(name, esp, config, says):
    with pytest.raises(ValueError) as caught:
        resolve_path(name, esp, config, KNOWN)
    assert says in str(caught.value)


def test_a_path_without_relay_or_api_needs_via():
    config = parse_config('[[path]]\nname = "own"\nips = ["192.0.2.1"]\n')
    path = resolve_path("own", None, config, KNOWN)
    with pytest.raises(ValueError, match="give --via"):
        via_for(path, "x.test")


ROW_JSON = {
    "name": "relay",
    "spf": {"result": "pass"},
    "dkim": {"state": "ok", "d": ["x.test"]},
    "alignment": {"spf": {"rfc7489": True, "rfc9989": True}, "dkim": True},
    "dmarc": "pass",
    "dmarc_reason": "aligned pass through DKIM d=x.test",
}
ROW = from_json(PathRow, ROW_JSON)  # as a domain report read back from JSON holds it


def receiver(spf: str, dkim_d: str | None, dkim: str, dmarc: str) -> dict:
    props = {"header.d": dkim_d} if dkim_d else {}
    return {
        "authserv_ids": ["mx.seeds.test"],
        "spf": {"result": spf},
        "dkim": [{"result": dkim, "properties": props}] if dkim_d else [],
        "dmarc": {"result": dmarc},
    }


def test_prediction_confirmed_and_contradicted():
    assert predicted(ROW) == {"spf": "pass", "dkim-aligned": "pass", "dmarc": "pass"}
    views = [
        ("a@seeds.test", receiver("pass", "x.test", "pass", "pass")),
        ("b@seeds.test", receiver("pass", "esp.example", "pass", "fail")),
    ]
    checks, findings = path_checks(ROW, "relay", views, "x.test")
    assert [(c["seed"], c["method"], c["agree"]) for c in checks] == [
        ("a@seeds.test", "spf", True),
        ("a@seeds.test", "dkim-aligned", True),
        ("a@seeds.test", "dmarc", True),
        ("b@seeds.test", "spf", True),
        ("b@seeds.test", "dkim-aligned", False),
        ("b@seeds.test", "dmarc", False),
    ]
    assert {(f.rule.id, f.target) for f in findings} == {("SEED406", "b@seeds.test")}
    assert {f.message for f in findings} == {
        "path relay: the domain audit predicted dkim-aligned pass, mx.seeds.test says none",
        "path relay: the domain audit predicted dmarc pass, mx.seeds.test says fail",
    }


def test_inconclusive_or_missing_path_row_predicts_nothing():
    assert path_checks(None, "relay", [], "x.test") == ([], [])
    assert path_checks(replace(ROW, inconclusive="x TXT -> TIMEOUT"), "relay", [], "x.test") == (
        [],
        [],
    )
    unknown = from_json(
        PathRow, {**ROW_JSON, "spf": {"result": "unknown"}, "dkim": {"state": "unknown"}}
    )
    assert predicted(unknown) == {"dmarc": "pass"}
