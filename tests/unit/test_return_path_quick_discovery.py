"""Quick return-path discovery (`--return-path-discovery quick`, the default for --from-file
lists): the return-path names are asked only when the domain's SPF, DKIM or MX records show a
provider with a custom return path, when one of those records could not be read, or when a
declared path through such a provider gives no return path of its own. What full discovery finds
that quick does not (a provider seen only through its return path) is asserted as the documented
difference."""

from __future__ import annotations

import asyncio

import pytest

from audit.checks.common import DomainContext
from audit.checks.domain import esp, sending_paths
from audit.esp.detect import RETURN_PATH_NAMES, return_path_names
from audit.esp.profiles import load_profiles
from audit.fact_json import to_json
from audit.facts.paths import declared_paths
from audit.model import Status
from audit.net.dns import Resolver, memory_backend
from tests.conftest import pairs

PROFILES = load_profiles()
ALL_NAMES = return_path_names(PROFILES)


def _esp(records, domain, mode="quick", check=esp.check, **options):
    """The ESP check's result (or `check`'s) and the return-path names asked (the resolver's
    query log, the report's evidence of every question)."""
    resolver = Resolver(memory_backend(records))
    ctx = DomainContext(domain, resolver, return_path_discovery=mode, **options)
    result = asyncio.run(check(ctx))
    mx = [q.name for q in resolver.log if q.rdtype == "MX" and q.name != domain]
    return result, [n.removesuffix(f".{domain}") for n in mx]


def _vias(result):
    return {(p.profile_id, p.via, p.name) for p in result.facts["providers"]}


ONLY_RETURN_PATH = {
    "rp.test": [("TXT", '"v=spf1 ip4:192.0.2.1 -all"'), ("MX", "10 mx.rp.test.")],
    "pm-bounces.rp.test": [("CNAME", "pm.mtasv.net.")],
}


def test_a_provider_seen_only_through_its_return_path_is_not_asked_for_in_quick_mode():
    result, asked = _esp(ONLY_RETURN_PATH, "rp.test")
    assert asked == []  # no return-path question reached the DNS
    assert result.facts["return_path_names_tried"] == []
    assert result.facts["providers"] == [] and result.findings == []
    assert result.status is Status.COMPLETED


def test_full_mode_asks_every_name_and_finds_it():
    result, asked = _esp(ONLY_RETURN_PATH, "rp.test", mode="full")
    assert sorted(asked) == sorted(ALL_NAMES)
    assert result.facts["return_path_names_tried"] == ALL_NAMES
    assert _vias(result) == {("postmark", "return-path-cname", "pm-bounces.rp.test")}
    assert pairs(result) == {("ESP001", "rp.test")}


def test_the_default_context_is_full_mode():
    ctx = DomainContext("rp.test", Resolver(memory_backend(ONLY_RETURN_PATH)))
    result = asyncio.run(esp.check(ctx))
    assert result.facts["return_path_names_tried"] == ALL_NAMES
    assert pairs(result) == {("ESP001", "rp.test")}


SENDGRID = {
    "sg.test": [("TXT", '"v=spf1 include:sendgrid.net -all"')],
    "bounce.sg.test": [("CNAME", "u7.wl8.sendgrid.net.")],
}


@pytest.mark.parametrize("mode", ["quick", "full"])
def test_an_spf_include_of_a_provider_with_a_return_path_asks_every_name(mode):
    result, asked = _esp(SENDGRID, "sg.test", mode=mode)
    assert sorted(asked) == sorted(ALL_NAMES)  # the same names in both modes
    assert result.facts["return_path_names_tried"] == ALL_NAMES
    assert _vias(result) == {
        ("sendgrid", "spf-include", "sg.test"),
        ("sendgrid", "return-path-cname", "bounce.sg.test"),
    }
    assert result.findings[0].message == (
        "SendGrid (Twilio) (sendgrid) detected from spf-include, return-path-cname"
    )


def test_a_provider_dkim_cname_asks_the_return_path_names():
    records = {
        "dk.test": [("MX", "10 mx.dk.test.")],
        "s1._domainkey.dk.test": [("CNAME", "s1.domainkey.u1.wl2.sendgrid.net.")],
        "mg.dk.test": [("CNAME", "u1.wl2.sendgrid.net.")],
    }
    result, asked = _esp(records, "dk.test")
    assert "mg" in asked and result.facts["return_path_names_tried"] == ALL_NAMES
    assert ("sendgrid", "return-path-cname", "mg.dk.test") in _vias(result)


def test_the_domain_mx_of_a_provider_bounce_host_asks_the_return_path_names():
    # the domain is itself an SES custom MAIL FROM domain (its MX is SES's feedback host)
    records = {
        "ses.test": [("MX", "10 feedback-smtp.us-east-1.amazonses.com.")],
        "bounce.ses.test": [("MX", "10 feedback-smtp.eu-west-1.amazonses.com.")],
    }
    result, asked = _esp(records, "ses.test")
    assert sorted(asked) == sorted(ALL_NAMES)
    assert ("amazon-ses", "return-path-mx", "bounce.ses.test") in _vias(result)


def test_a_mailbox_provider_alone_asks_no_return_path_name():
    records = {
        "gw.test": [("TXT", '"v=spf1 include:_spf.google.com -all"'), ("MX", "1 smtp.google.com.")],
        "mail.gw.test": [("MX", "10 feedback-smtp.us-east-1.amazonses.com.")],
    }
    result, asked = _esp(records, "gw.test")
    assert asked == [] and result.facts["return_path_names_tried"] == []
    assert {p for p, _, _ in _vias(result)} == {"google-workspace"}  # SES behind mail. unseen
    full, _ = _esp(records, "gw.test", mode="full")
    assert ("amazon-ses", "return-path-mx", "mail.gw.test") in _vias(full)


def test_a_near_miss_include_asks_nothing():
    # sendgrid.net.evil.test is no provider's include
    records = {"nm.test": [("TXT", '"v=spf1 include:sendgrid.net.evil.test -all"')]}
    result, asked = _esp(records, "nm.test")
    assert asked == [] and result.facts["return_path_names_tried"] == []


@pytest.mark.parametrize(
    "failure",
    [
        {"to.test": [("TIMEOUT", "TXT")]},  # the SPF record
        {"to.test": [("SERVFAIL", "MX")]},  # the domain's MX
        {"s1._domainkey.to.test": [("SERVFAIL", "TXT")]},  # a provider's DKIM selector
        {"inc.to.test": [("TIMEOUT", "TXT")]},  # an include below the SPF record
    ],
    ids=["spf", "mx", "dkim", "spf-include"],
)
def test_a_record_that_could_not_be_read_asks_the_return_path_names(failure):
    records = {"pm-bounces.to.test": [("CNAME", "pm.mtasv.net.")], **failure}
    if "to.test" not in failure:
        records["to.test"] = [("TXT", '"v=spf1 include:inc.to.test -all"')]
    result, asked = _esp(records, "to.test")
    assert sorted(asked) == sorted(ALL_NAMES)  # unknown is not "no provider": ask
    assert result.facts["return_path_names_tried"] == ALL_NAMES
    assert ("postmark", "return-path-cname", "pm-bounces.to.test") in _vias(result)
    assert result.status is Status.INCONCLUSIVE
    assert {rule for rule, _ in pairs(result)} == {"DNS001", "ESP001"}


def test_an_spf_tree_cut_short_asks_the_return_path_names():
    # a chain deeper than the walk follows: a provider include below it would be unseen
    chain = {f"d{i}.deep.test": [("TXT", f'"v=spf1 include:d{i + 1}.deep.test -all"')]
             for i in range(20)}  # fmt: skip
    records = {"deep.test": [("TXT", '"v=spf1 include:d0.deep.test -all"')], **chain}
    result, asked = _esp(records, "deep.test")
    assert sorted(asked) == sorted(ALL_NAMES)


def test_quick_and_full_agree_whenever_quick_asks():
    records = {
        **SENDGRID,
        "pm-bounces.sg.test": [("CNAME", "pm.mtasv.net.")],
        "mail.sg.test": [("MX", "10 feedback-smtp.us-east-1.amazonses.com.")],
    }
    quick, _ = _esp(records, "sg.test")
    full, _ = _esp(records, "sg.test", mode="full")
    assert quick.facts == full.facts
    assert [(f.rule.id, f.message, f.evidence) for f in quick.findings] == [
        (f.rule.id, f.message, f.evidence) for f in full.findings
    ]
    assert len(quick.findings) == 3  # sendgrid, postmark and SES, each its own ESP001


def test_every_common_name_is_in_the_list_quick_asks():
    assert set(RETURN_PATH_NAMES) <= set(ALL_NAMES)
    assert "pm-bounces" in ALL_NAMES  # a profile's literal name


# Declared paths (`--esp NAME` without --return-path): the sending-path check takes the path's
# return path from detection, so quick mode asks the names as full mode does. Postmark's
# recommended setup (its DKIM key is a TXT record at a date selector, the SPF include is
# optional) and SES with a custom MAIL FROM (random DKIM tokens) show nothing else in DNS.
DECLARED = {
    "postmark": {
        "pm.test": [("TXT", '"v=spf1 ip4:192.0.2.1 -all"'), ("MX", "10 mx.pm.test.")],
        "_dmarc.pm.test": [("TXT", '"v=DMARC1; p=reject"')],
        "pm-bounces.pm.test": [("CNAME", "pm.mtasv.net.")],
        "pm.mtasv.net": [
            ("TXT", '"v=spf1 include:spf.mtasv.net -all"'),
            ("MX", "10 inbound.postmarkapp.com."),
        ],
        "spf.mtasv.net": [("TXT", '"v=spf1 ip4:50.31.156.96/27 -all"')],
    },
    "amazon-ses": {
        "pm.test": [("TXT", '"v=spf1 ip4:192.0.2.1 -all"'), ("MX", "10 mx.pm.test.")],
        "_dmarc.pm.test": [("TXT", '"v=DMARC1; p=reject"')],
        "mail.pm.test": [
            ("MX", "10 feedback-smtp.us-east-1.amazonses.com."),
            ("TXT", '"v=spf1 include:amazonses.com -all"'),
        ],
        "amazonses.com": [("TXT", '"v=spf1 ip4:54.240.0.0/18 -all"')],
    },
}
RETURN_PATH_OF = {"postmark": "pm-bounces.pm.test", "amazon-ses": "mail.pm.test"}


def _path(records, mode, esp_id, **declared):
    result, asked = _esp(
        records, "pm.test", mode, sending_paths.check,
        sending_paths=declared_paths([esp_id], **declared),
    )  # fmt: skip
    (row,) = to_json(result.facts["sending_paths"])["paths"]
    return result, row, asked


@pytest.mark.parametrize("esp_id", list(DECLARED))
def test_a_declared_path_without_a_return_path_asks_the_names_in_quick_mode(esp_id):
    full, full_row, full_asked = _path(DECLARED[esp_id], "full", esp_id)
    quick, row, asked = _path(DECLARED[esp_id], "quick", esp_id)
    assert sorted(asked) == sorted(full_asked) == sorted(ALL_NAMES)
    # the full-mode outcome, which quick now matches: the custom return path, aligned
    assert (row["origin"], row["envelope_domain"]) == ("declared", RETURN_PATH_OF[esp_id])
    assert row["spf"]["result"] == "pass"
    assert row["alignment"]["spf"] == {"rfc7489": True, "rfc9989": True}
    assert (row["dmarc"], row["disposition"]) == ("pass", "none")
    assert pairs(quick) == set()  # no ESP102 (provider's default envelope), no PATH001
    assert row == full_row and pairs(full) == set()
    assert quick.status is full.status is Status.COMPLETED


@pytest.mark.parametrize("esp_id", list(DECLARED))
def test_a_declared_path_with_its_own_return_path_asks_nothing_in_quick_mode(esp_id):
    _, row, asked = _path(DECLARED[esp_id], "quick", esp_id, return_path=RETURN_PATH_OF[esp_id])
    assert asked == [RETURN_PATH_OF[esp_id].removesuffix(".pm.test")]  # the path's own MX only
    assert (row["envelope_domain"], row["dmarc"]) == (RETURN_PATH_OF[esp_id], "pass")


def test_a_declared_own_mta_path_asks_nothing_in_quick_mode():
    # no provider, hence no provider return path for detection to fill
    result, asked = _esp(
        DECLARED["postmark"], "pm.test", "quick", sending_paths.check,
        sending_paths=declared_paths([], ips=["192.0.2.1"]),
    )  # fmt: skip
    assert asked == []
    (row,) = to_json(result.facts["sending_paths"])["paths"]
    assert (row["name"], row["envelope_domain"], row["dmarc"]) == ("own-mta", "pm.test", "pass")
