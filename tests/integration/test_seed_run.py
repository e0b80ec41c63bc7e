"""`audit seed run` end to end on the loopback mail system, through the CLI as documented.

The good setup (good.sender.test, signed by OpenDKIM with the key in DNS) and the broken one
(broken.sender.test: signed with a key that does not match DNS, SPF not listing the relay) go
through the real sending Postfix to the seed MX, whose policyd-spf, OpenDKIM and OpenDMARC write
the Authentication-Results the report must show. seed3 files its mail in Junk.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.json_output import report_of

WAIT = "60"  # the run's --wait: copies normally arrive in well under a second


def seed_command(
    ms,
    tmp_path: Path,
    from_addr: str,
    via: str,
    *extra: str,
    ca_file=None,
    source=None,
    state: str = "state.sqlite3",
) -> list[str]:
    """`audit seed run` over the mail system's seeds (written to tmp_path/seeds.toml); DNS from
    its Knot unless `source` says otherwise; `extra` options go last."""
    seeds = tmp_path / "seeds.toml"
    seeds.write_text(ms.seeds_toml())
    return [
        sys.executable, "-m", "audit", "seed", "run", "--seeds", str(seeds),
        "--from", from_addr, "--via", via, "--ca-file", str(ca_file or ms.ca_file),
        *(source or ["--dns-server", ms.dns_server]),
        "--state", str(tmp_path / state), "--wait", WAIT, *extra,
    ]  # fmt: skip


def seed_env(ms, **variables: str) -> dict[str, str]:
    """The environment a seed run reads: the seed passwords, and `variables` on top."""
    return {**os.environ, **ms.password_env(), **variables}


def run_cli(command: list[str], env: dict[str, str], timeout: float = 240):
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


def seed_run(ms, tmp_path: Path, from_addr: str, *extra: str) -> subprocess.CompletedProcess:
    command = seed_command(
        ms, tmp_path, from_addr, f"smtp://{ms.smtp_user}@{ms.host}:{ms.submission_port}",
        "--dkim-selector", ms.dkim_selector, "--rate", "20", "--timeout", "5",
        "--format", "json", *extra,
    )  # fmt: skip
    return run_cli(command, seed_env(ms, AUDIT_SMTP_PASSWORD=ms.smtp_password))


def _plain_via(ms) -> str:
    """The signing submission port without AUTH (the relay trusts loopback)."""
    return f"smtp://{ms.host}:{ms.submission_port}"


def _report(proc: subprocess.CompletedProcess, ms) -> dict:
    assert proc.returncode in (0, 1), proc.stderr + ms.logs()
    assert "Traceback" not in proc.stderr
    return report_of(proc.stdout)


def _seed_facts(report: dict) -> dict[str, dict]:
    return {
        o["facts"]["seed"]["address"]: o["facts"]["seed"]
        for o in report["outcomes"]
        if "seed" in o["facts"]
    }


def _pairs(report: dict) -> set[tuple[str, str]]:
    return {(f["rule_id"], f["target"]) for o in report["outcomes"] for f in o["findings"]}


@pytest.fixture(scope="module")
def good_run(mail_system, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seed-good")
    proc = seed_run(mail_system, tmp, f"news@{mail_system.good_domain}")
    return tmp, proc, _report(proc, mail_system)


def test_good_setup_delivers_and_receivers_confirm(good_run, mail_system) -> None:
    _tmp, proc, report = good_run
    assert report["kind"] == "seed"
    seeds = _seed_facts(report)
    assert set(seeds) == {s.address for s in mail_system.seeds}
    for address in ("seed1@seeds.test", "seed2@seeds.test"):
        facts = seeds[address]
        assert (facts["placement"], facts["folder"]) == ("inbox", "INBOX")
        receiver = facts["receiver"]
        assert (receiver["spf"], receiver["dkim"], receiver["dmarc"]) == ("pass", "pass", "pass")
        assert receiver["authserv_ids"] and receiver["authserv_ids"][0] == "mx.seeds.test"
    assert seeds["seed3@seeds.test"]["placement"] == "spam"
    # the only findings: seed3's Junk placement; every receiver verdict matches the prediction
    assert _pairs(report) == {("SEED402", "seed3@seeds.test")}
    placement = report["outcomes"][0]["facts"]["placement"]["generic"]
    assert (placement["inbox"], placement["spam"]) == (2, 1)
    assert proc.returncode == 1  # SEED402 is high


def test_broken_setup_shows_the_real_failures(mail_system, tmp_path) -> None:
    proc = seed_run(mail_system, tmp_path, f"news@{mail_system.broken_domain}")
    report = _report(proc, mail_system)
    seed1 = _seed_facts(report)["seed1@seeds.test"]
    assert seed1["placement"] == "inbox"
    assert (seed1["receiver"]["spf"], seed1["receiver"]["dkim"], seed1["receiver"]["dmarc"]) == (
        "softfail",
        "fail",
        "fail",
    )
    pairs = _pairs(report)
    for address in ("seed1@seeds.test", "seed2@seeds.test", "seed3@seeds.test"):
        assert ("SEED403", address) in pairs
        assert ("SEED404", address) in pairs
        assert ("SEED405", address) in pairs
    # the domain audit found a valid key at s1._domainkey.broken.sender.test and so predicted a
    # DKIM pass; every receiver says fail: that contradiction is listed for every seed
    for address in ("seed1@seeds.test", "seed2@seeds.test", "seed3@seeds.test"):
        assert ("SEED406", address) in pairs
    contradictions = [
        f["message"] for o in report["outcomes"] for f in o["findings"] if f["rule_id"] == "SEED406"
    ]
    assert all("found a valid key at s1._domainkey.broken.sender.test" in m for m in contradictions)


def test_report_re_renders_and_resume_sends_nothing_twice(good_run, mail_system) -> None:
    tmp, _proc, report = good_run
    run_id = report["target"].split("run ")[-1].rstrip(")")
    state = str(tmp / "state.sqlite3")
    again = subprocess.run(
        [sys.executable, "-m", "audit", "seed", "report", run_id, "--state", state,
         "--format", "json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert again.returncode == 1, again.stderr
    assert _pairs(report_of(again.stdout)) == _pairs(report)

    resumed = seed_run(mail_system, tmp, f"news@{mail_system.good_domain}", "--resume", run_id)
    assert "sending to 0 of 3 seeds" in resumed.stderr
    # the mailboxes still hold exactly one copy per seed for this run's tokens
    from audit.seed.state import RunStore

    sends = RunStore(state).sends(run_id)
    assert {a: r.status for a, r in sends.items()} == {s.address: "sent" for s in mail_system.seeds}
    assert _seed_facts(_report(resumed, mail_system))["seed1@seeds.test"]["placement"] == "inbox"


def test_no_secret_reaches_output_or_state(good_run, mail_system) -> None:
    tmp, proc, _report_data = good_run
    secrets = [mail_system.smtp_password, *(s.password for s in mail_system.seeds)]
    blobs = [proc.stdout, proc.stderr, (tmp / "state.sqlite3").read_bytes().decode("latin-1")]
    for secret in secrets:
        assert all(secret not in blob for blob in blobs)


@pytest.mark.parametrize("provider", ["sendgrid", "mailgun"])
def test_http_api_path_reaches_the_seeds(mail_system, tmp_path, provider) -> None:
    """--via an HTTP API: the stand-in checks the documented request shape and relays into the
    signing Postfix; a 429 with Retry-After on the first request is retried."""
    from tests.infra.api_standin import ApiStandin
    from tests.infra.certs import TestCA

    ca = TestCA("api stand-in CA")
    cert, key = ca.issue("127.0.0.1").write(tmp_path, "api")
    bundle = tmp_path / "ca-bundle.pem"
    bundle.write_bytes(Path(mail_system.ca_file).read_bytes() + ca.cert_pem)
    standin = ApiStandin.start(
        provider,
        key="test-api-key",
        relay=(mail_system.host, mail_system.submission_port),
        cert_file=cert,
        key_file=key,
        domain=mail_system.good_domain,
    )
    standin.script(429, {"Retry-After": "1"}, b'{"errors":[{"message":"slow down"}]}')
    try:
        command = seed_command(
            mail_system, tmp_path, f"news@{mail_system.good_domain}", standin.via,
            "--rate", "20", "--format", "json", ca_file=bundle, state="s.db",
        )  # fmt: skip
        env = seed_env(
            mail_system,
            AUDIT_SENDGRID_API_KEY="test-api-key",
            AUDIT_MAILGUN_API_KEY="test-api-key",
        )
        proc = run_cli(command, env)
    finally:
        standin.stop()
    assert standin.problems == []
    report = _report(proc, mail_system)
    assert "test-api-key" not in proc.stdout + proc.stderr
    seeds_facts = _seed_facts(report)
    assert seeds_facts["seed1@seeds.test"]["placement"] == "inbox"
    assert seeds_facts["seed1@seeds.test"]["receiver"]["dkim"] == "pass"
    assert [r.status for r in standin.requests][:2] == [429, 200 if provider == "mailgun" else 202]
    assert not any(rule == "SEED407" for rule, _t in _pairs(report))


def test_zone_dir_predictions_with_real_transport(mail_system, tmp_path) -> None:
    """--zone-dir answers the audits offline; the relay and IMAP servers are still reached."""
    command = seed_command(
        mail_system, tmp_path, f"news@{mail_system.good_domain}", _plain_via(mail_system),
        "--format", "json", source=["--zone-dir", str(mail_system.zone_dir)], state="s.db",
    )  # fmt: skip
    proc = run_cli(command, seed_env(mail_system, AUDIT_SMTP_PASSWORD=""))
    report = _report(proc, mail_system)
    seed1 = _seed_facts(report)["seed1@seeds.test"]
    assert (seed1["placement"], seed1["receiver"]["dkim"]) == ("inbox", "pass")
    assert _pairs(report) == {("SEED402", "seed3@seeds.test")}


def test_kill_mid_run_then_resume_sends_each_seed_exactly_once(mail_system, tmp_path) -> None:
    """kill -9 while sending (slow --rate), then --resume: every seed ends with one copy."""
    import signal
    import time

    from audit.seed.state import RunStore

    env = seed_env(mail_system, AUDIT_SMTP_PASSWORD="")
    state = tmp_path / "s.db"
    command = seed_command(
        mail_system, tmp_path, f"news@{mail_system.good_domain}", _plain_via(mail_system),
        "--format", "json", state="s.db",
    )  # fmt: skip
    first = subprocess.Popen(
        [*command, "--rate", "0.3"], stderr=subprocess.PIPE, text=True, env=env
    )
    assert first.stderr is not None
    deadline = time.monotonic() + 60
    for line in first.stderr:  # wait for the first message to leave, then kill -9
        if line.startswith("audit seed: sent to ") or time.monotonic() > deadline:
            break
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    store = RunStore(state)
    [run] = store.list_runs()
    before = store.send_states(run.id)
    store.close()
    assert "sent" in before.values() and len(before) < 3

    resumed = run_cli([*command, "--rate", "20", "--resume", run.id], env)
    report = _report(resumed, mail_system)
    assert f"sending to {3 - len(before)} of 3 seeds" in resumed.stderr
    placements = {a: f["placement"] for a, f in _seed_facts(report).items()}
    assert placements == {
        "seed1@seeds.test": "inbox",
        "seed2@seeds.test": "inbox",
        "seed3@seeds.test": "spam",
    }
    # exactly one copy per seed in its mailbox for this run's tokens
    from imapclient import IMAPClient

    for seed in mail_system.seeds:
        with IMAPClient(mail_system.host, port=mail_system.imap_port, ssl=False) as client:
            import ssl

            client.starttls(ssl.create_default_context(cafile=str(mail_system.ca_file)))
            client.login(seed.username, seed.password)
            client.select_folder(seed.folder, readonly=True)
            found = client.search(["HEADER", "X-Audit-Seed-Token", run.id.replace("-", "")])
            assert len(found) == 1, (seed.address, found)


def test_a_wrong_seed_password_stops_before_anything_is_sent(mail_system, tmp_path) -> None:
    first = next(iter(mail_system.password_env()))
    env = seed_env(mail_system, **{first: "wrong-password", "AUDIT_SMTP_PASSWORD": ""})
    command = seed_command(
        mail_system,
        tmp_path,
        f"news@{mail_system.good_domain}",
        _plain_via(mail_system),
        state="s.db",
    )
    proc = run_cli(command, env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    error = [line for line in proc.stderr.splitlines() if line.startswith("audit: error:")]
    assert len(error) == 1 and "nothing was sent" in error[0] and "seed1@seeds.test" in error[0]
    assert "wrong-password" not in proc.stderr
    assert "Traceback" not in proc.stderr
    from audit.seed.state import RunStore

    assert RunStore(tmp_path / "s.db").list_runs() == []  # no run was started


def test_unsigned_path_contradicts_the_published_keys(mail_system, tmp_path) -> None:
    """The unsigned variant: the domain publishes a key (s1) but the path does not sign."""
    command = seed_command(
        mail_system, tmp_path, f"news@{mail_system.good_domain}",
        f"smtp://{mail_system.host}:{mail_system.unsigned_port}",
        "--dkim-selector", mail_system.dkim_selector, "--format", "json", state="s.db",
    )  # fmt: skip
    proc = run_cli(command, seed_env(mail_system, AUDIT_SMTP_PASSWORD=""))
    report = _report(proc, mail_system)
    seed1 = _seed_facts(report)["seed1@seeds.test"]
    assert (seed1["receiver"]["dkim"], seed1["receiver"]["dmarc"]) == ("none", "pass")
    pairs = _pairs(report)
    assert ("SEED404", "seed1@seeds.test") in pairs and ("SEED406", "seed1@seeds.test") in pairs
    message = next(
        f["message"]
        for o in report["outcomes"]
        for f in o["findings"]
        if (f["rule_id"], f["target"]) == ("SEED406", "seed1@seeds.test")
    )
    assert "saw no signature by good.sender.test" in message
