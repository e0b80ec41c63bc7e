"""`audit esp list | show` and `audit domain --esp-profiles` as a user runs them: the shipped
profiles with their sources, one-line errors for bad profiles, detection over --zone-dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ZONES
from tests.e2e.test_cli import audit, one_line_error
from tests.json_output import document_of, report_of

PROVIDERS = [
    "amazon-ses", "brevo", "google-workspace", "hubspot", "klaviyo", "mailgun", "mandrill",
    "microsoft-365", "postmark", "sendgrid", "sparkpost", "zoho-mail",
]  # fmt: skip

RELAY = """name = "Our relay"
sources = ["https://wiki.esp-relay.example/mail"]
[return_path]
record_type = "CNAME"
name_patterns = ["bounces"]
target_patterns = ["sendgrid.net"]
"""


def test_list_names_every_provider_and_what_detects_it():
    proc = audit("esp", "list")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines] == PROVIDERS
    sendgrid = next(line for line in lines if line.startswith("sendgrid "))
    assert "SendGrid (Twilio)" in sendgrid and "include:sendgrid.net" in sendgrid
    assert "DKIM CNAME s1.domainkey.u*.wl*.sendgrid.net" in sendgrid


def test_list_json():
    proc = audit("esp", "list", "--format", "json")
    rows = document_of(proc.stdout, "profiles")
    assert [r["id"] for r in rows] == PROVIDERS
    m365 = next(r for r in rows if r["id"] == "microsoft-365")
    assert "MX *.mail.protection.outlook.com,*.mx.microsoft" in m365["detected_by"]


def test_show_sendgrid_terminal_has_every_field_and_sources():
    proc = audit("esp", "show", "sendgrid")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("sendgrid: SendGrid (Twilio)\n")
    for expected in [
        "SPF includes:              sendgrid.net",
        "DKIM selectors:            s1, s2",
        "custom return path:        CNAME at em* -> u*.wl*.sendgrid.net",
        "signs with its own d=:     sendgrid.net",
        "    https://www.twilio.com/docs/sendgrid/ui/account-and-settings/"
        "how-to-set-up-domain-authentication",
    ]:
        assert expected in out


def test_show_json_round_trips_the_profile():
    (data,) = document_of(audit("esp", "show", "amazon-ses", "--format", "json").stdout, "profiles")
    assert data["return_path"] == {
        "record_type": "MX",
        "name_patterns": ["*"],
        "target_patterns": ["feedback-smtp.*.amazonses.com"],
    }
    assert data["dkim_cname_patterns"] == ["*.dkim.amazonses.com"]
    assert all(url.startswith("https://docs.aws.amazon.com/") for url in data["sources"])


def test_user_profile_overrides_and_shows_its_file(tmp_path: Path):
    (tmp_path / "sendgrid.toml").write_text(RELAY, encoding="utf-8")
    shown = audit("esp", "show", "sendgrid", "--esp-profiles", str(tmp_path), "--format", "json")
    (data,) = document_of(shown.stdout, "profiles")
    assert data["name"] == "Our relay"
    assert data["file"] == str(tmp_path / "sendgrid.toml")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["esp", "show", "sendgird"], "unknown ESP profile 'sendgird'"),
        (["esp", "list", "--esp-profiles", "/nonexistent/esp"], "not a directory"),
        (["esp", "list", "--format", "html"], "html"),
        (["domain", "clean.test", "--zone-dir", str(ZONES), "--esp-profiles", "/nonexistent"],
         "/nonexistent: not a directory"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(args, says):
    assert says in one_line_error(audit(*args))


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('name = "x"\n', "x.toml: missing required key 'sources'"),
        (RELAY + 'colour = "red"\n', "x.toml: unknown key 'return_path.colour'"),
        (RELAY.replace('["sendgrid.net"]', '"sendgrid.net"'),
         "x.toml: 'return_path.target_patterns' must be a list of strings, not a string"),
    ],
)  # fmt: skip
def test_bad_profile_file_is_one_line_for_esp_and_domain(tmp_path: Path, text: str, says: str):
    (tmp_path / "x.toml").write_text(text, encoding="utf-8")
    assert says in one_line_error(audit("esp", "list", "--esp-profiles", str(tmp_path)))
    assert says in one_line_error(
        audit("domain", "clean.test", "--zone-dir", str(ZONES), "--esp-profiles", str(tmp_path))
    )


def _esp_outcome(proc) -> dict:
    report = report_of(proc.stdout)
    return next(o for o in report["outcomes"] if o["check"] == "esp")


def test_domain_detects_over_zone_dir_and_reads_user_profiles(tmp_path: Path):
    # the near-miss zone's bounces CNAME to sendgrid.net is no SendGrid return path, but it is
    # the one a user profile describes
    base = ["domain", "esp-nearmiss.test", "--zone-dir", str(ZONES), "--format", "json"]
    assert _esp_outcome(audit(*base))["findings"] == []
    (tmp_path / "our-relay.toml").write_text(RELAY, encoding="utf-8")
    esp = _esp_outcome(audit(*base, "--esp-profiles", str(tmp_path)))
    assert [(f["rule_id"], f["target"], f["message"]) for f in esp["findings"]] == [
        ("ESP001", "esp-nearmiss.test", "Our relay (our-relay) detected from return-path-cname")
    ]
    assert esp["facts"]["profiles_dir"] == str(tmp_path)
    assert esp["facts"]["providers"] == [
        {
            "profile_id": "our-relay",
            "via": "return-path-cname",
            "name": "bounces.esp-nearmiss.test",
            "record": "bounces.esp-nearmiss.test CNAME sendgrid.net.",
            "detail": {"return_path": "bounces.esp-nearmiss.test", "target": "sendgrid.net"},
        }
    ]
