"""`audit check` against Knot: ignores, expiry, the baseline, fingerprints across runs and after
a zone change, and the command line over the config file."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.gate_world import EditableKnot, findings, json_reports, run_audit


def write_config(directory: Path, dns: str, body: str) -> Path:
    path = directory / "audit.toml"
    path.write_text(f'dns_servers = ["{dns}"]\ntimeout = 3\n{body}')
    return path


def test_ignores_matched_expired_unused_and_unreachable(knot_server, tmp_path: Path):
    write_config(tmp_path, knot_server.dns_server, '''
domains = ["dmarc-none.test", "nosuch.test"]

[[ignore]]
rule = "DMARC101"
target = "dmarc-none.test"
reason = "p=none while the aggregate reports come in"
until = 2999-01-01

[[ignore]]
rule = "DKIM001"
reason = "expired acceptance"
until = 2020-01-01

[[ignore]]
rule = "SPF201"
target = "*.test"
reason = "nothing matches this"
''')
    proc = run_audit("check", "--no-probes", "--format", "json", cwd=tmp_path, state=tmp_path)
    assert proc.returncode == 1, proc.stderr
    got = findings(json_reports(proc))
    dmarc = got[("dmarc-none.test", "DMARC101", "dmarc-none.test")]
    assert dmarc["ignored"] == {
        "kind": "config", "reason": "p=none while the aggregate reports come in",
        "until": "2999-01-01",
    }  # fmt: skip
    assert got[("dmarc-none.test", "DKIM001", "dmarc-none.test")]["ignored"] is None
    expired = got[("audit.toml", "CFG001", "audit.toml")]
    assert "DKIM001" in expired["message"] and "2020-01-01" in expired["message"]
    assert expired["severity"] == "high"
    assert "SPF201" in got[("audit.toml", "CFG003", "audit.toml")]["message"]
    assert got[("nosuch.test", "CFG002", "nosuch.test")]["evidence"][0].endswith("NXDOMAIN")
    assert ("dmarc-none.test", "CFG002", "dmarc-none.test") not in got  # exists: near miss


def test_green_gate_with_one_accepted_exception_and_flag_precedence(knot_server, tmp_path):
    write_config(tmp_path, knot_server.dns_server, '''
domains = ["clean.test", "dmarc-none.test"]
fail_on = "medium"

[domain."dmarc-none.test"]
dkim_selectors = ["s1"]

[[ignore]]
rule = "DMARC101"
target = "dmarc-none.test"
reason = "p=none while the aggregate reports come in"

[[ignore]]
rule = "DKIM001"
target = "dmarc-none.test"
reason = "this domain does not sign yet"
''')
    green = run_audit("check", "--no-probes", cwd=tmp_path, state=tmp_path)
    assert green.returncode == 0, green.stdout + green.stderr
    assert "[ignored: config]" in green.stdout
    assert "ignored: p=none while the aggregate reports come in" in green.stdout
    # the command line wins over the file: --fail-on low fails on the LOW findings (STS001)
    low = run_audit("check", "--no-probes", "--fail-on", "low", cwd=tmp_path, state=tmp_path)
    assert low.returncode == 1
    # a bad value in the file is exit 2 naming file, line and key
    (tmp_path / "audit.toml").write_text('domains = ["clean.test"]\n\ntimeout = "soon"\n')
    bad = run_audit("check", cwd=tmp_path, state=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "audit: error: audit.toml:3: timeout: must be a number of seconds, not a string"
    )


def test_no_config_is_exit_2(tmp_path: Path):
    proc = run_audit("check", cwd=tmp_path, state=tmp_path)
    assert proc.returncode == 2 and "audit init" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1



def test_fingerprints_stable_then_baseline_fails_only_on_the_changed_fault(
    editable_knot: EditableKnot, tmp_path: Path
):
    project = tmp_path / "project"
    project.mkdir()
    body = 'domains = ["spf-too-many.test", "dmarc-none.test"]\n'

    def check(*extra: str):
        write_config(project, editable_knot.address, body)
        return run_audit("check", "--no-probes", "--format", "json", *extra, cwd=project,
                         state=tmp_path)  # fmt: skip

    first, second = check(), check()
    prints = [
        {key: f["fingerprint"] for key, f in findings(json_reports(p)).items()}
        for p in (first, second)
    ]
    assert prints[0] == prints[1]  # same zones, same fingerprints (timings differ)
    spf_key = ("spf-too-many.test", "SPF201", "spf-too-many.test")
    assert spf_key in prints[0]

    write = run_audit("baseline", "write", "--no-probes", cwd=project, state=tmp_path)
    assert write.returncode == 0, write.stderr
    assert ".audit-baseline.json" in write.stdout
    accepted = run_audit("check", "--no-probes", "--baseline", ".audit-baseline.json",
                         "--format", "json", cwd=project, state=tmp_path)  # fmt: skip
    assert accepted.returncode == 0, accepted.stdout[-2000:]
    assert all(
        f["ignored"] and f["ignored"]["kind"] == "baseline"
        for key, f in findings(json_reports(accepted)).items()
        if key[0] != "audit.toml"
    )

    # one more include: the SPF fault changes (13 lookups), so its fingerprint does too
    zone = editable_knot.zone("spf-too-many.test").read_text()
    spf_line = next(line for line in zone.splitlines() if "v=spf1" in line and "TXT" in line
                    and line.startswith("@"))  # fmt: skip
    editable_knot.edit("spf-too-many.test", spf_line,
                       spf_line.replace("v=spf1", "v=spf1 a mx a:x.spf-too-many.test"))  # fmt: skip
    changed = check("--baseline", ".audit-baseline.json")
    assert changed.returncode == 1
    after = findings(json_reports(changed))
    assert after[spf_key]["fingerprint"] != prints[0][spf_key]
    assert after[spf_key]["ignored"] is None
    dmarc_key = ("dmarc-none.test", "DMARC101", "dmarc-none.test")
    assert after[dmarc_key]["fingerprint"] == prints[0][dmarc_key]
    assert after[dmarc_key]["ignored"]["kind"] == "baseline"
    baseline = json.loads((project / ".audit-baseline.json").read_text())
    assert {e["rule"] for e in baseline["findings"]} >= {"SPF201", "DMARC101"}


def test_messages_globs_relative_to_the_config(knot_server, tmp_path: Path):
    mail = tmp_path / "mail"
    mail.mkdir()
    (mail / "hello.eml").write_bytes(
        b"From: News <news@msg-dkim.test>\r\nTo: r@receiver.example\r\nSubject: Hello\r\n"
        b"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m1@msg-dkim.test>\r\n\r\nHi.\r\n"
    )
    write_config(tmp_path, knot_server.dns_server, 'messages = ["mail/*.eml"]\n')
    sub = tmp_path / "sub"
    sub.mkdir()  # run from below: the globs stay relative to the file
    proc = run_audit("check", "--format", "json", cwd=sub, state=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    reports = json_reports(proc)
    assert [(r["kind"], r["target"]) for r in reports] == [
        ("message", str(mail / "hello.eml")), ("config", str(tmp_path / "audit.toml"))
    ]  # fmt: skip
    write_config(tmp_path, knot_server.dns_server, 'messages = ["nothing/*.eml"]\n')
    none = run_audit("check", cwd=tmp_path, state=tmp_path)
    assert none.returncode == 2
    assert none.stderr.strip() == (
        "audit: error: audit.toml: messages: 'nothing/*.eml' matches no file"
    )
