"""ESP profiles: every shipped profile loads and cites its sources; a bad file is a one-line
ProfileError naming the file and what is wrong; --esp-profiles adds and overrides by id."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.esp.profiles import (
    BUILTIN_DIR,
    ProfileError,
    load_profile,
    load_profiles,
    matches,
    profile_for_dkim_target,
    profile_for_host,
    profile_for_include,
    profile_for_mx,
    profile_for_return_path_target,
)

REQUIRED = {
    "sendgrid", "mailgun", "amazon-ses", "postmark", "mandrill", "sparkpost", "brevo",
    "google-workspace", "microsoft-365", "zoho-mail", "hubspot", "klaviyo",
}  # fmt: skip

GOOD = """
name = "Our relay"
spf_includes = ["_spf.relay.example.net"]
dkim_selectors = ["relay1"]
dkim_cname_patterns = ["relay1.dkim.relay.example.net"]
default_envelope_domains = ["bounce.relay.example.net"]
sources = ["https://wiki.example.net/mail/relay"]

[return_path]
record_type = "CNAME"
name_patterns = ["rp"]
target_patterns = ["rp.relay.example.net"]
"""


@pytest.mark.parametrize("path", sorted(BUILTIN_DIR.glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_profile_loads_and_cites_https_sources(path: Path):
    profile = load_profile(path)
    assert profile.id == path.stem
    assert profile.name
    assert profile.sources and all(s.startswith("https://") for s in profile.sources)
    # each profile can be recognised by something in DNS
    assert profile.detected_by(), f"{path.name}: nothing in DNS marks this provider"


def test_required_providers_are_shipped():
    assert set(load_profiles()) >= REQUIRED


def test_sendgrid_facts():
    sendgrid = load_profiles()["sendgrid"]
    assert sendgrid.spf_includes == ("sendgrid.net",)
    assert sendgrid.literal_selectors() == ("s1", "s2")
    assert sendgrid.return_path is not None
    assert sendgrid.return_path.record_type == "CNAME"
    assert sendgrid.return_path.literal_names() == ()  # em<N> cannot be enumerated
    assert sendgrid.signs_own_domain == "sendgrid.net"


def test_matching_helpers():
    profiles = load_profiles()
    assert profile_for_include(profiles, "sendgrid.net").id == "sendgrid"
    assert profile_for_include(profiles, "sendgrid.net.evil.example") is None
    assert profile_for_dkim_target(profiles, "s1.domainkey.u123.wl45.sendgrid.net.").id == (
        "sendgrid"
    )
    evil = "s1.domainkey.u123.wl45.sendgrid.net.evil.test"
    assert profile_for_dkim_target(profiles, evil) is None
    assert profile_for_return_path_target(profiles, "U123.WL45.sendgrid.net", "CNAME").id == (
        "sendgrid"
    )
    assert profile_for_return_path_target(profiles, "u123.wl45.sendgrid.net", "MX") is None
    assert profile_for_mx(profiles, "alt1.aspmx.l.google.com").id == "google-workspace"
    assert profile_for_mx(profiles, "aspmx.l.google.com.attacker.test") is None
    assert profile_for_host(profiles, "smtp.google.com").id == "google-workspace"
    assert profile_for_host(profiles, "mx.example.org") is None
    assert matches(["em*"], "EM123") == "em*"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_extra_dir_adds_and_overrides(tmp_path: Path):
    _write(tmp_path, "our-relay.toml", GOOD)
    _write(tmp_path, "sendgrid.toml", GOOD.replace("Our relay", "SendGrid, our way"))
    profiles = load_profiles(tmp_path)
    assert profiles["our-relay"].return_path.target_patterns == ("rp.relay.example.net",)
    assert profiles["sendgrid"].name == "SendGrid, our way"
    assert "google-workspace" in profiles
    assert list(profiles) == sorted(profiles)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD + 'colour = "blue"\n', "unknown key 'return_path.colour'"),
        ('colour = "blue"\n' + GOOD, "unknown key 'colour'"),
        (GOOD.replace('sources = ["https://wiki.example.net/mail/relay"]', ""),
         "missing required key 'sources'"),
        (GOOD.replace('["https://wiki.example.net/mail/relay"]', "[]"),
         "'sources' must list at least one"),
        (GOOD.replace('"https://wiki.example.net/mail/relay"', '"http://wiki.example.net/"'),
         "is not an https:// URL"),
        (GOOD.replace('spf_includes = ["_spf.relay.example.net"]', 'spf_includes = "x.net"'),
         "'spf_includes' must be a list of strings, not a string"),
        (GOOD.replace('name = "Our relay"', "name = 3"), "'name' must be a string, not an integer"),
        (GOOD.replace('["rp.relay.example.net"]', '["*.net"]'), "must end in the provider's own"),
        (GOOD.replace('["rp.relay.example.net"]', '["*"]'), "must end in the provider's own"),
        (GOOD.replace('["rp.relay.example.net"]', '["RP.relay.example.net"]'), "lower-case"),
        (GOOD.replace('["relay1.dkim.relay.example.net"]', '["a b.example.net"]'),
         "is not a domain name or pattern"),
        (GOOD.replace('record_type = "CNAME"', 'record_type = "A"'), "must be one of CNAME, MX"),
        (GOOD + "\n", None),
        ("name = [", "not valid TOML"),
    ],
)  # fmt: skip
def test_validation_errors_name_the_file(tmp_path: Path, text: str, message: str | None):
    path = _write(tmp_path, "relay.toml", text)
    if message is None:
        assert load_profile(path).id == "relay"
        return
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_bad_directory_and_file_name(tmp_path: Path):
    with pytest.raises(ProfileError, match="not a directory"):
        load_profiles(tmp_path / "missing")
    with pytest.raises(ProfileError, match=r"holds no \*\.toml"):
        load_profiles(tmp_path)
    _write(tmp_path, "Bad Name.toml", GOOD)
    with pytest.raises(ProfileError, match="file name must be"):
        load_profiles(tmp_path)


def test_the_readme_example_profile_loads(tmp_path: Path):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    profile = load_profile(_write(tmp_path, "our-relay.toml", example))
    assert profile.return_path.target_patterns == ("bounces.relay.example.net",)
    assert profile.signs_own_domain == "relay.example.net"
