"""Conventions CI users bring from ruff, bandit and pip-audit (issue 13): output width from the
terminal or COLUMNS, a distinct exit code for internal errors, -q/-v, help on every option with
test-only flags hidden, rules as JSON, and one DNS001 per check when a server stops answering."""

from __future__ import annotations

import os
import subprocess
import sys

import click
import pytest

from audit.cli import cli
from audit.model import CheckOutcome, Finding, Report, Severity, Status, combined_exit_code
from audit.rules import all_rules
from audit.rules.dns import DNS_TEMPERROR
from audit.runner import collapse_temperrors
from tests.conftest import ZONES
from tests.e2e.test_cli import audit
from tests.infra.netutil import free_port
from tests.json_output import document_of, report_of


def _audit_env(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "audit", *args],
        capture_output=True, text=True, timeout=120, env=dict(os.environ, **env),
    )  # fmt: skip


@pytest.mark.parametrize("columns", [60, 200])
def test_width_follows_columns(columns: int) -> None:
    proc = _audit_env("domain", "spf-too-many.test", "dmarc-none.test", "--zone-dir", str(ZONES),
                      COLUMNS=str(columns))  # fmt: skip
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= columns
    if columns == 200:  # a wide pane is used: some line is longer than the old fixed 100
        assert max(len(line) for line in lines) > 100


def test_piped_output_without_columns_is_100_wide() -> None:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    proc = subprocess.run(
        [sys.executable, "-m", "audit", "domain", "spf-too-many.test", "--zone-dir", str(ZONES)],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    widest = max(len(line) for line in proc.stdout.splitlines())
    assert 90 < widest <= 100


def test_a_crashed_check_is_exit_4_not_inconclusive() -> None:
    crashed = Report("domain", "a.test", [CheckOutcome("mx", "a.test", Status.ERROR, error="boom")])
    timed_out = Report("domain", "b.test", [CheckOutcome("mx", "b.test", Status.INCONCLUSIVE)])
    failing = Report("domain", "c.test", [CheckOutcome("spf", "c.test", Status.COMPLETED,
                     findings=[Finding(all_rules()["SPF001"], "c.test", "no SPF")])])  # fmt: skip
    assert crashed.exit_code(Severity.HIGH) == 4
    assert timed_out.exit_code(Severity.HIGH) == 3
    assert combined_exit_code([timed_out, crashed], Severity.HIGH) == 4
    # a real failure still decides the gate
    assert combined_exit_code([crashed, failing], Severity.LOW) == 1


def test_help_on_every_option_and_test_flags_hidden() -> None:
    def walk(command: click.Command, path: str) -> None:
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{path} {param.opts} has no help text"
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, f"{path} {name}")

    walk(cli, "audit")
    shown = audit("domain", "--help").stdout
    for flag in ("--smtp-port", "--https-port", "--ca-file"):
        assert flag not in shown
    assert "--format" in shown and "Write the report to FILE" in shown
    summary = audit("--help").stdout
    assert "Print the documentation of a rule id." in summary  # not cut at "(e.g."
    # hidden, still accepted
    proc = audit("domain", "clean.test", "--zone-dir", str(ZONES), "--smtp-port", "2525")
    assert proc.returncode in (0, 1) and "No such option" not in proc.stderr


def test_rules_as_json() -> None:
    proc = audit("rules", "--format", "json")
    assert proc.returncode == 0
    rules = {r["id"]: r for r in document_of(proc.stdout, "rules")}
    assert set(rules) == set(all_rules())
    assert rules["SPF001"]["family"] == "SPF" and rules["SPF001"]["doc"].startswith("# SPF001")
    assert rules["DNS001"]["temperror"] is True


def test_quiet_verbose_and_log_level() -> None:
    assert audit("-q", "rules").returncode == 0
    assert audit("-vv", "rules").returncode == 0
    proc = _audit_env("rules", AUDIT_LOG_LEVEL="LOUD")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "audit: error: AUDIT_LOG_LEVEL='LOUD': use DEBUG, INFO, WARNING or ERROR"
    )


def test_an_unanswering_server_gives_one_dns001_per_check() -> None:
    dead = f"127.0.0.1:{free_port()}"
    proc = audit("domain", "clean.test", "--dns-server", dead, "--timeout", "0.5", "--no-probes",
                 "--format", "json")  # fmt: skip
    assert proc.returncode == 3
    report = report_of(proc.stdout)
    for outcome in report["outcomes"]:
        dns001 = [f for f in outcome["findings"] if f["rule_id"] == "DNS001"]
        assert len(dns001) <= 1, outcome["check"]
    (dkim,) = next(o for o in report["outcomes"] if o["check"] == "dkim")["findings"]
    assert dkim["target"] == "clean.test"
    assert dkim["message"].startswith("48 DNS lookups failed; the first: ")
    assert len(dkim["evidence"]) == 21 and dkim["evidence"][-1] == "... and 28 more failed lookups"


def test_collapse_keeps_single_temperrors_and_verdicts() -> None:
    verdict = Finding(all_rules()["SPF001"], "a.test", "no SPF")
    one = Finding(DNS_TEMPERROR, "x.a.test", "x TXT lookup gave TIMEOUT")
    assert collapse_temperrors([verdict, one], "a.test") == [verdict, one]
    two = Finding(DNS_TEMPERROR, "y.a.test", "y TXT lookup gave SERVFAIL")
    merged = collapse_temperrors([one, verdict, two], "a.test")
    assert [f.rule.id for f in merged] == ["DNS001", "SPF001"]
    assert merged[0].target == "a.test" and merged[0].evidence == [one.message, two.message]


def test_collapsed_dns001_is_stable_per_check_and_other_temperrors_stay() -> None:
    from audit.fingerprint import fingerprint

    bl = all_rules()["BL001"]
    a = Finding(DNS_TEMPERROR, "x.a.test", "x TXT lookup gave TIMEOUT")
    b = Finding(DNS_TEMPERROR, "y.a.test", "y TXT lookup gave TIMEOUT")
    c = Finding(DNS_TEMPERROR, "z.a.test", "z TXT lookup gave SERVFAIL")
    one_run = collapse_temperrors([a, b], "a.test", "dkim")[0]
    next_run = collapse_temperrors([a, b, c], "a.test", "dkim")[0]
    other_check = collapse_temperrors([a, b], "a.test", "dnsbl")[0]
    assert fingerprint(one_run, "a.test") == fingerprint(next_run, "a.test")
    assert fingerprint(one_run, "a.test") != fingerprint(other_check, "a.test")
    lists = [Finding(bl, "zen.example", "zone 1 timed out"), Finding(bl, "dbl.example", "2")]
    assert collapse_temperrors(lists, "a.test", "dnsbl") == lists  # not DNS001: kept as they are


def test_an_accepted_dns001_does_not_keep_the_gate_inconclusive() -> None:
    from audit.model import Suppression

    lookup = Finding(DNS_TEMPERROR, "a.test", "a TXT lookup gave REFUSED")
    report = Report("domain", "a.test", [CheckOutcome("spf", "a.test", Status.INCONCLUSIVE,
                                                      findings=[lookup])])  # fmt: skip
    assert report.exit_code(Severity.HIGH) == 3
    lookup.ignored = Suppression("config", "the blocklist refuses our resolver", None)
    assert report.exit_code(Severity.HIGH) == 0
    timed_out = Report("domain", "b.test", [CheckOutcome("mx", "b.test", Status.INCONCLUSIVE)])
    assert timed_out.exit_code(Severity.HIGH) == 3  # no finding explains it: still undecided


def test_check_and_batch_summaries_follow_columns_too(tmp_path) -> None:
    """`audit check` and a batch run's summary are terminal text as well: same width rule."""
    config = tmp_path / "audit.toml"
    config.write_text('domains = ["spf-too-many.test", "dmarc-none.test"]\n')
    env = dict(os.environ, COLUMNS="60")
    check = subprocess.run(
        [sys.executable, "-m", "audit", "check", "--config", str(config), "--zone-dir", str(ZONES),
         "--no-history"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert check.stdout and max(len(line) for line in check.stdout.splitlines()) <= 60
    listed = tmp_path / "domains.txt"
    listed.write_text("spf-too-many.test\ndmarc-none.test\nclean.test\n")
    batch = _audit_env("domain", "--from-file", str(listed), "--zone-dir", str(ZONES), COLUMNS="60")
    assert batch.stdout and max(len(line) for line in batch.stdout.splitlines()) <= 60
