"""ESP detection through the CLI against Knot serving the fixture zones (fake providers named as
the real ones): the same detections as --zone-dir, and a server that never answers gives DNS001,
never "no provider"."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ZONES
from tests.json_output import report_of


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "audit", *args], capture_output=True, text=True, timeout=120
    )


def esp_outcome(*args: str) -> dict:
    proc = cli("domain", *args, "--no-probes", "--format", "json")
    assert proc.returncode in (0, 1, 3), proc.stderr
    report = report_of(proc.stdout)
    return next(o for o in report["outcomes"] if o["check"] == "esp")


def test_sendgrid_over_knot(knot_server):
    esp = esp_outcome("esp-sendgrid.test", "--dns-server", knot_server.address)
    assert esp["status"] == "completed"
    assert [(f["rule_id"], f["target"], f["severity"]) for f in esp["findings"]] == [
        ("ESP001", "esp-sendgrid.test", "info")
    ]
    assert esp["findings"][0]["message"] == (
        "SendGrid (Twilio) (sendgrid) detected from spf-include, dkim-cname"
    )
    assert [(p["via"], p["name"], p["record"]) for p in esp["facts"]["providers"]] == [
        ("spf-include", "esp-sendgrid.test",
         'esp-sendgrid.test TXT "v=spf1 include:sendgrid.net -all"'),
        ("dkim-cname", "s1._domainkey.esp-sendgrid.test",
         "s1._domainkey.esp-sendgrid.test CNAME s1.domainkey.u123.wl45.sendgrid.net."),
        ("dkim-cname", "s2._domainkey.esp-sendgrid.test",
         "s2._domainkey.esp-sendgrid.test CNAME s2.domainkey.u123.wl45.sendgrid.net."),
    ]  # fmt: skip
    assert esp["facts"]["profiles_dir"] is None


def test_knot_and_zone_dir_detect_the_same(knot_server):
    for domain in ["esp-m365.test", "esp-google.test", "esp-ses.test", "esp-postmark.test",
                   "esp-nearmiss.test"]:  # fmt: skip
        over_knot = esp_outcome(domain, "--dns-server", knot_server.address)
        from_files = esp_outcome(domain, "--zone-dir", str(ZONES))
        assert over_knot["facts"]["providers"] == from_files["facts"]["providers"], domain
        assert over_knot["findings"] == from_files["findings"], domain
    m365 = esp_outcome("esp-m365.test", "--dns-server", knot_server.address)
    assert {p["via"] for p in m365["facts"]["providers"]} == {"spf-include", "dkim-cname", "mx"}


def test_a_silent_server_is_dns001_not_no_provider(drop_proxy):
    esp = esp_outcome("esp-sendgrid.test", "--dns-server", drop_proxy.address, "--timeout", "1")
    assert esp["status"] == "inconclusive"
    assert {f["rule_id"] for f in esp["findings"]} == {"DNS001"}
    assert ("DNS001", "esp-sendgrid.test") in {(f["rule_id"], f["target"]) for f in esp["findings"]}
    assert esp["facts"]["providers"] == []
