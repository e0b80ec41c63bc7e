"""ESP detection and ESP001 against the fixture zones (fake providers named as the real ones)
and in-memory zones for timeouts: which provider, from which record, and the near misses."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from audit.checks.common import DomainContext
from audit.checks.domain import esp
from audit.esp.detect import RETURN_PATH_NAMES, detect, detect_providers
from audit.esp.profiles import load_profiles
from audit.model import Status
from audit.net.dns import Resolver, StaticBackend, memory_backend
from tests.conftest import pairs


def _detections(zone_data, domain: str, **options) -> set[tuple[str, str, str, str]]:
    ctx = DomainContext(domain, Resolver(StaticBackend(zone_data)), **options)
    found = asyncio.run(detect_providers(ctx, load_profiles()))
    return {(d.profile_id, d.via, d.name, d.record) for d in found}


def test_sendgrid_from_include_and_dkim_cnames(zone_data):
    assert _detections(zone_data, "esp-sendgrid.test") == {
        ("sendgrid", "spf-include", "esp-sendgrid.test",
         'esp-sendgrid.test TXT "v=spf1 include:sendgrid.net -all"'),
        ("sendgrid", "dkim-cname", "s1._domainkey.esp-sendgrid.test",
         "s1._domainkey.esp-sendgrid.test CNAME s1.domainkey.u123.wl45.sendgrid.net."),
        ("sendgrid", "dkim-cname", "s2._domainkey.esp-sendgrid.test",
         "s2._domainkey.esp-sendgrid.test CNAME s2.domainkey.u123.wl45.sendgrid.net."),
    }  # fmt: skip
    # em123 (SendGrid's generated return path) cannot be enumerated: not claimed as seen
    assert "em123" not in RETURN_PATH_NAMES


def test_sendgrid_detail_names_selector_and_target(zone_data):
    ctx = DomainContext("esp-sendgrid.test", Resolver(StaticBackend(zone_data)))
    found = asyncio.run(detect_providers(ctx, load_profiles()))
    s1 = next(d for d in found if d.name == "s1._domainkey.esp-sendgrid.test")
    assert s1.detail == {"selector": "s1", "target": "s1.domainkey.u123.wl45.sendgrid.net"}
    include = next(d for d in found if d.via == "spf-include")
    assert include.detail == {"include": "sendgrid.net"}


def test_microsoft_365_from_mx_include_and_selector_cnames(zone_data):
    found = _detections(zone_data, "esp-m365.test")
    assert {(p, via, name) for p, via, name, _ in found} == {
        ("microsoft-365", "spf-include", "esp-m365.test"),
        ("microsoft-365", "dkim-cname", "selector1._domainkey.esp-m365.test"),
        ("microsoft-365", "dkim-cname", "selector2._domainkey.esp-m365.test"),
        ("microsoft-365", "mx", "esp-m365.test"),
    }
    assert ("microsoft-365", "mx", "esp-m365.test",
            "esp-m365.test MX 0 esp-m365-test.mail.protection.outlook.com.") in found  # fmt: skip


def test_google_workspace_from_mx_and_include_not_from_its_txt_key(zone_data):
    found = _detections(zone_data, "esp-google.test")
    assert {(p, via) for p, via, _, _ in found} == {
        ("google-workspace", "spf-include"),
        ("google-workspace", "mx"),
    }
    assert ("google-workspace", "mx", "esp-google.test",
            "esp-google.test MX 1 smtp.google.com.") in found  # fmt: skip


def test_ses_custom_mail_from_mx_and_a_token_selector_only_when_given(zone_data):
    assert _detections(zone_data, "esp-ses.test") == {
        ("amazon-ses", "return-path-mx", "mail.esp-ses.test",
         "mail.esp-ses.test MX 10 feedback-smtp.us-east-1.amazonses.com."),
    }  # fmt: skip
    given = _detections(zone_data, "esp-ses.test", dkim_selectors=["tok4abc123"])
    record = "tok4abc123._domainkey.esp-ses.test CNAME tok4abc123.dkim.amazonses.com."
    assert ("amazon-ses", "dkim-cname", "tok4abc123._domainkey.esp-ses.test", record) in given


def test_postmark_from_return_path_cname(zone_data):
    assert _detections(zone_data, "esp-postmark.test") == {
        ("postmark", "return-path-cname", "pm-bounces.esp-postmark.test",
         "pm-bounces.esp-postmark.test CNAME pm.mtasv.net."),
    }  # fmt: skip


@pytest.mark.parametrize("domain", ["esp-nearmiss.test", "clean.test", "dkim-esp.test"])
def test_near_misses_detect_nothing(zone_data, domain):
    # look-alike hosts, an include of a domain that is no provider's, a CNAME into sendgrid.net
    # that is not an account's return-path host, a DKIM CNAME to another customer's key
    assert _detections(zone_data, domain) == set()


def test_esp001_per_provider_with_records_as_evidence(run_domain_check):
    result = run_domain_check(esp.check, "esp-m365.test")
    assert result.status is Status.COMPLETED
    assert pairs(result) == {("ESP001", "esp-m365.test")}
    finding = result.findings[0]
    assert (
        finding.message == "Microsoft 365 (microsoft-365) detected from spf-include, dkim-cname, mx"
    )
    assert (
        finding.evidence[0] == 'esp-m365.test TXT "v=spf1 include:spf.protection.outlook.com -all"'
    )
    assert "audit esp show microsoft-365" in finding.fix
    facts = result.facts
    assert [p.via for p in facts["providers"]] == [
        "spf-include",
        "dkim-cname",
        "dkim-cname",
        "mx",
    ]
    assert facts["profiles_dir"] is None
    assert (
        "selector1" in facts["selectors_tried"] and "pm-bounces" in facts["return_path_names_tried"]
    )


def test_esp001_one_finding_per_provider():
    backend = memory_backend(
        {
            "multi.test": [
                ("TXT", '"v=spf1 include:sendgrid.net include:_spf.google.com -all"'),
                ("MX", "1 smtp.google.com."),
            ],
            "pm-bounces.multi.test": [("CNAME", "pm.mtasv.net.")],
        }
    )
    ctx = DomainContext("multi.test", Resolver(backend))
    result = asyncio.run(esp.check(ctx))
    assert [f.message.split(" detected")[0] for f in result.findings] == [
        "Google Workspace (google-workspace)",
        "Postmark (ActiveCampaign) (postmark)",
        "SendGrid (Twilio) (sendgrid)",
    ]


def test_a_timeout_is_dns001_and_inconclusive_never_not_detected():
    backend = memory_backend(
        {
            "slow.test": [("TIMEOUT", "TXT"), ("MX", "10 mx.slow.test.")],
            "s1._domainkey.slow.test": [("SERVFAIL", "TXT")],
            "pm-bounces.slow.test": [("TIMEOUT", "MX")],
        }
    )
    ctx = DomainContext("slow.test", Resolver(backend))
    result = asyncio.run(esp.check(ctx))
    assert result.status is Status.INCONCLUSIVE
    assert pairs(result) == {
        ("DNS001", "slow.test"),
        ("DNS001", "s1._domainkey.slow.test"),
        ("DNS001", "pm-bounces.slow.test"),
    }
    assert result.facts["providers"] == []


def test_a_dkim_cname_seen_before_a_timeout_still_detects():
    backend = memory_backend(
        {
            "half.test": [("TXT", '"v=spf1 -all"')],
            "s1._domainkey.half.test": [("CNAME", "s1.domainkey.u1.wl2.sendgrid.net.")],
            "s1.domainkey.u1.wl2.sendgrid.net": [("TIMEOUT", "TXT")],
        }
    )
    ctx = DomainContext("half.test", Resolver(backend))
    result = asyncio.run(esp.check(ctx))
    assert pairs(result) == {("ESP001", "half.test")}
    assert result.status is Status.COMPLETED


def test_user_profiles_dir_adds_a_relay(tmp_path: Path):
    (tmp_path / "our-relay.toml").write_text(
        'name = "Our relay"\n'
        'sources = ["https://wiki.relay.example/mail"]\n'
        "[return_path]\n"
        'record_type = "CNAME"\n'
        'name_patterns = ["outbound-bounces"]\n'
        'target_patterns = ["bounces.relay.example"]\n',
        encoding="utf-8",
    )
    backend = memory_backend({"outbound-bounces.own.test": [("CNAME", "bounces.relay.example.")]})
    ctx = DomainContext("own.test", Resolver(backend), esp_profiles_dir=str(tmp_path))
    result = asyncio.run(esp.check(ctx))
    assert pairs(result) == {("ESP001", "own.test")}
    assert result.facts["profiles_dir"] == str(tmp_path)
    assert result.facts["providers"][0].record == (
        "outbound-bounces.own.test CNAME bounces.relay.example."
    )
    assert "our-relay" in result.facts["profiles"]


def test_detection_is_memoized_per_run(zone_data):
    resolver = Resolver(StaticBackend(zone_data))
    ctx = DomainContext("esp-sendgrid.test", resolver)
    profiles = load_profiles()

    async def twice():
        first = await detect(ctx, profiles)
        count = len(resolver.log)
        second = await detect(ctx, profiles)
        return first, second, count

    first, second, count = asyncio.run(twice())
    assert first is second
    assert len(resolver.log) == count


def test_a_redirect_to_a_provider_counts_as_its_include():
    backend = memory_backend(
        {
            "redir.test": [("TXT", '"v=spf1 redirect=spf.protection.outlook.com"')],
            "spf.protection.outlook.com": [("TXT", '"v=spf1 ip4:203.0.113.192/27 -all"')],
        }
    )
    ctx = DomainContext("redir.test", Resolver(backend))
    found = asyncio.run(detect_providers(ctx, load_profiles()))
    assert [(d.profile_id, d.via, d.detail) for d in found] == [
        ("microsoft-365", "spf-include", {"redirect": "spf.protection.outlook.com"})
    ]


def test_a_nested_include_rests_on_the_record_that_names_it():
    backend = memory_backend(
        {
            "nested.test": [("TXT", '"v=spf1 include:_spf.nested.test -all"')],
            "_spf.nested.test": [("TXT", '"v=spf1 include:mailgun.org ~all"')],
            "mailgun.org": [("TXT", '"v=spf1 ip4:203.0.113.0/24 ~all"')],
        }
    )
    ctx = DomainContext("nested.test", Resolver(backend))
    found = asyncio.run(detect_providers(ctx, load_profiles()))
    assert [(d.profile_id, d.name, d.record) for d in found] == [
        ("mailgun", "_spf.nested.test", '_spf.nested.test TXT "v=spf1 include:mailgun.org ~all"')
    ]
