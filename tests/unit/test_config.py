"""audit.toml: discovery, every key, and errors that name the file, the line and the key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from audit.config import (
    REPORT_FORMATS,
    ConfigError,
    Ignore,
    PathConfig,
    find_config,
    load_config,
    parse_config,
)

GOOD = """\
# the team's gate
domains = ["Example.COM.", "example.net"]
messages = ["samples/*.eml"]
fail_on = "Medium"
dns_servers = ["127.0.0.1:5353", "::1"]
timeout = 2
allow_private_addresses = true
probes = false
baseline = ".audit-baseline.json"

[formats]
terminal = "-"
sarif = "out/audit.sarif"

[domain."example.com"]
dkim_selectors = ["S1", "mailjet."]

[[path]]
name = "newsletter"
esp = "SendGrid"
ips = ["192.0.2.10", "2001:DB8::1"]
helo = "Mail.Example.com"
return_path = "em123.example.com"
dkim_selectors = ["s1"]
smtp = "smtp.example.com:587"

[[path]]
name = "relay"
smtp = "[2001:db8::25]:25"

[[ignore]]
rule = "dmarc101"
target = "example.net"
reason = "p=none while the reports come in"
until = 2026-03-01

[[ignore]]
rule = "MX001"
reason = "the net domain does not receive mail"
"""


def test_good_config_every_key(tmp_path: Path):
    path = tmp_path / "audit.toml"
    path.write_text(GOOD)
    config = load_config(path)
    assert config is not None
    assert config.source == path
    assert config.domains == ("example.com", "example.net")
    assert config.selectors_for("example.com") == ("s1", "mailjet")
    assert config.selectors_for("example.net") == ()
    assert config.messages == ("samples/*.eml",)
    assert config.fail_on == "medium"
    assert config.dns_servers == ("127.0.0.1:5353", "::1")
    assert config.timeout == 2.0
    assert config.allow_private_addresses is True
    assert config.probes is False
    assert config.baseline == ".audit-baseline.json"
    assert config.formats == (("terminal", "-"), ("sarif", "out/audit.sarif"))
    assert config.resolve("out/audit.sarif") == tmp_path / "out/audit.sarif"
    assert config.paths == (
        PathConfig(
            name="newsletter",
            esp="sendgrid",
            ips=("192.0.2.10", "2001:db8::1"),
            helo="mail.example.com",
            return_path="em123.example.com",
            dkim_selectors=("s1",),
            smtp="smtp.example.com:587",
        ),
        PathConfig("relay", None, (), None, None, (), "[2001:db8::25]:25"),
    )
    assert config.ignores == (
        Ignore("DMARC101", "example.net", "p=none while the reports come in",
               dt.date(2026, 3, 1), line=31),
        Ignore("MX001", None, "the net domain does not receive mail", None, line=37),
    )  # fmt: skip


def test_unset_scalars_are_none_so_flags_can_tell():
    config = parse_config('domains = ["example.com"]\n')
    assert (config.fail_on, config.timeout, config.allow_private_addresses) == (None, None, None)
    assert config.paths == () and config.ignores == () and config.formats == ()


def _error(text: str, name: str = "audit.toml") -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, Path(name))
    return str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('domains = ["a.example"]\ndomian = 1\n', "audit.toml:2: domian: unknown key"),
        ('timeout = "5"\n', "audit.toml:1: timeout: must be a number of seconds, not a string"),
        ("timeout = -1\n", "audit.toml:1: timeout: must be a positive number"),
        ("timeout = true\n", "audit.toml:1: timeout: must be a number of seconds, not a boolean"),
        ('fail_on = "severe"\n', "audit.toml:1: fail_on: must be one of info, low"),
        ("domains = [1]\n", "audit.toml:1: domains: must be a list of non-empty strings"),
        ('domains = ["x@example.com"]\n', "audit.toml:1: domains: 'x@example.com' looks like"),
        ("allow_private_addresses = 1\n",
         "audit.toml:1: allow_private_addresses: must be true or false, not a number"),
        ('dns_servers = ["ns.example"]\n',
         "audit.toml:1: dns_servers: DNS server must be an IP address, got 'ns.example'"),
        ('\n[formats]\njson = "a.json"\npdf = "a.pdf"\n',
         "audit.toml:4: formats.pdf: unknown format"),
        ('[formats]\njson = "-"\nterminal = "-"\n', "audit.toml:1: formats: only one format"),
        ('domains = ["a.example"]\n[domain."b.example"]\ndkim_selectors = ["s1"]\n',
         'audit.toml:2: domain."b.example": b.example is not in `domains`'),
        ('domains = ["a.example"]\n[domain."a.example"]\ndkim_selectors = ["s 1"]\n',
         'audit.toml:3: domain."a.example".dkim_selectors: \'s 1\' is not a valid DKIM selector'),
        ('domains = ["a.example"]\n[domain."a.example"]\nselectors = ["s1"]\n',
         'audit.toml:3: domain."a.example".selectors: unknown key'),
        ('[[path]]\nname = "a"\n\n[[path]]\nname = "b"\nips = ["192.0.2.300"]\n',
         "audit.toml:6: path.ips: '192.0.2.300' is not an IPv4 or IPv6 address"),
        ('[[path]]\nname = "a"\nsmtp = "smtp.example.com"\n', "audit.toml:3: path.smtp: "),
        ('[[path]]\nname = "a"\nsmtp = "smtp.example.com:99999"\n', "audit.toml:3: path.smtp: "),
        ('[[path]]\nname = "a"\nreturn_path = "bounce@x.example"\n',
         "audit.toml:3: path.return_path: 'bounce@x.example' looks like an email address"),
        ('[[path]]\nesp = "sendgrid"\n', "audit.toml:1: path: [[path]] needs a name"),
        ('[[path]]\nname = "a"\n[[path]]\nname = "a"\n', "audit.toml:4: path.name: duplicate"),
        ('[[path]]\nname = "a"\nip = ["192.0.2.1"]\n', "audit.toml:3: path.ip: unknown key"),
        ('[[ignore]]\nrule = "DMARC101"\n', "audit.toml:1: ignore: [[ignore]] needs a reason"),
        ('[[ignore]]\nrule = "NOPE999"\nreason = "x"\n',
         "audit.toml:2: ignore.rule: unknown rule id 'NOPE999'"),
        ('[[ignore]]\nrule = "MX001"\nreason = "x"\nuntil = "next week"\n',
         "audit.toml:4: ignore.until: must be a date like 2026-12-31"),
        ('[[ignore]]\nrule = "MX001"\nreason = "  "\n', "audit.toml:3: ignore.reason: must not"),
        ('domains = ["a.example"\n', "audit.toml:"),
        ('domains = [\n  "a.example",  # [not a table]\n  "b.example",\n]\ntimeout = "x"\n',
         "audit.toml:5: timeout: must be a number"),
        ('[[ignore]]\nrule = "MX001"\nreason = """\n[formats]\n"""\nuntil = 5\n',
         "audit.toml:6: ignore.until: must be a date"),
    ],
)
def test_bad_values_name_file_line_and_key(text: str, expected: str):
    assert _error(text).startswith(expected)


def test_invalid_toml_is_one_line_with_the_line():
    message = _error('domains = ["a.example"]\ntimeout = \n')
    assert message.startswith("audit.toml:2: invalid TOML")
    assert "\n" not in message


def test_found_in_a_parent_directory(tmp_path: Path):
    (tmp_path / "audit.toml").write_text('domains = ["example.com"]\n')
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_config(deep) == tmp_path / "audit.toml"
    config = load_config(start=deep)
    assert config is not None and config.domains == ("example.com",)
    assert config.base_dir == tmp_path


def test_pyproject_tool_audit_and_its_lines(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.audit]\ndomains = ["example.org"]\n\n'
        '[[tool.audit.ignore]]\nrule = "SPF101"\nreason = "legacy"\nuntil = 2020-01-01\n'
        '\n[tool.audit.domain."example.org"]\ndkim_selectors = ["s2"]\n'
    )
    config = load_config(start=tmp_path)
    assert config is not None and config.domains == ("example.org",)
    assert config.selectors_for("example.org") == ("s2",)
    assert config.ignores[0].line == 7 and config.ignores[0].expired(dt.date(2020, 1, 2))
    assert not config.ignores[0].expired(dt.date(2020, 1, 1))  # the until day itself is covered
    (tmp_path / "pyproject.toml").write_text('[tool.audit]\ntimeout = "x"\n')
    with pytest.raises(ConfigError) as info:
        load_config(start=tmp_path)
    assert str(info.value) == (
        f"{tmp_path / 'pyproject.toml'}:2: tool.audit.timeout: "
        "must be a number of seconds, not a string"
    )


def test_pyproject_without_tool_audit_is_passed_over(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    inner = tmp_path / "inner"
    inner.mkdir()
    assert find_config(inner) != tmp_path / "pyproject.toml"
    (inner / "pyproject.toml").write_text('[tool.audit]\ndomains = ["example.com"]\n')
    (inner / "audit.toml").write_text('domains = ["example.net"]\n')
    assert find_config(inner) == inner / "audit.toml"  # audit.toml first in one directory


def test_unreadable_and_not_utf8(tmp_path: Path):
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b'domains = ["a.example"]\n# \xff\n')
    with pytest.raises(ConfigError, match=r"bad.toml:2: not UTF-8"):
        load_config(bad)


def test_no_config_anywhere(tmp_path: Path):
    found = load_config(start=tmp_path)  # /tmp's parents hold none on a sane machine
    assert found is None or found.source is not None and tmp_path not in found.source.parents


def test_report_formats_match_the_renderers():
    from reports import FORMATS

    assert REPORT_FORMATS == FORMATS
