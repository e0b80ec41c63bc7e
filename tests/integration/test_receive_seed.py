"""A `receive` seed: `audit seed run` includes the local `audit receive` inbox as a seed, read
from its state file (no IMAP), so the run has one receiver whose verdict is exact."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.infra.certs import TestCA
from tests.infra.receive_inbox import Inbox
from tests.json_output import report_of


def test_seed_run_reads_the_receive_inbox(tmp_path: Path, knot_server) -> None:
    ca = TestCA()
    cert, key = ca.issue("inbox.test", "127.0.0.1").write(tmp_path / "tls", "inbox")
    ca_file = ca.write_ca(tmp_path / "tls" / "ca.pem")
    inbox = Inbox.start(
        tmp_path / "inbox",
        "--tls-cert", cert, "--tls-key", key, "--dns-server", knot_server.address,
    )  # fmt: skip
    try:
        address = inbox.new()
        seeds = tmp_path / "seeds.toml"
        seeds.write_text(
            f'[[seed]]\naddress = "{address}"\nreceive = "{inbox.state}"\nname = "local inbox"\n'
        )
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "audit",
                "seed",
                "run",
                "--seeds",
                str(seeds),
                "--from",
                "news@inbox-sender.test",
                "--via",
                f"smtp://127.0.0.1:{inbox.port}",
                "--ca-file",
                str(ca_file),
                "--dns-server",
                knot_server.address,
                "--state",
                str(tmp_path / "seed.sqlite3"),
                "--wait",
                "60",
                "--timeout",
                "5",
                "--format",
                "json",
            ],  # fmt: skip
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert proc.stdout, proc.stderr
        report = report_of(proc.stdout)
    finally:
        inbox.stop()
    seed = next(o for o in report["outcomes"] if o["target"] == address)
    facts = seed["facts"]["seed"]
    assert (facts["delivered"], facts["folder"], facts["placement"]) == (True, "INBOX", "inbox")
    # the inbox wrote its own Authentication-Results from the true envelope: the test message
    # is not DKIM-signed; SPF (127.0.0.1 is in inbox-sender.test's record) and DMARC (aligned
    # through SPF) pass; our replay of the copy agrees on every method
    receiver = facts["receiver"]
    assert receiver["authserv_ids"] == ["inbox.test"]
    assert (receiver["spf"], receiver["dkim"], receiver["dmarc"]) == ("pass", "none", "pass")
    assert [(c["method"], c["agree"]) for c in facts["comparison"]] == [
        ("spf", True), ("dkim", True), ("dmarc", True),
    ]  # fmt: skip
    rules = {(f["rule_id"], f["target"]) for f in seed["findings"]}
    assert ("SEED404", address) in rules
    assert not {r for r, _ in rules} & {"SEED401", "SEED402", "SEED403", "SEED405"}
