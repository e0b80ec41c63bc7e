"""SUB301 against the test Postfix: one submission service with smtpd_tls_auth_only=yes
(STARTTLS first, AUTH only after it: the near miss) and one advertising AUTH PLAIN LOGIN before
STARTTLS. The relay's name comes from Knot (path-relay.test), its certificate from a test CA;
the TLS judgment is the MX probe's own."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.infra.servers import ServerError
from tests.integration.conftest import _require_postfix
from tests.integration.test_knot_parity import cli
from tests.json_output import report_of

RELAY = "smtp.path-relay.test"
# Cyrus SASL for Postfix's smtpd: the mechanisms are what matters here (nobody logs in)
SASL_CONF = "pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: {db}\n"


@pytest.fixture(scope="module")
def relays():
    from tests.infra.certs import TestCA
    from tests.infra.postfix_tls import PostfixTls, SmtpdService

    _require_postfix()
    run = Path(tempfile.mkdtemp(prefix="audit-postfix-relay-"))
    os.chmod(run, 0o755)
    ca = TestCA()
    ca_file = ca.write_ca(run / "certs" / "ca.pem")
    cert, key = ca.issue(RELAY).write(run / "certs", "relay")
    sasl = run / "sasl"
    sasl.mkdir()
    (sasl / "smtpd.conf").write_text(SASL_CONF.format(db=sasl / "sasldb2"))
    auth = {
        "smtpd_sasl_auth_enable": "yes",
        "smtpd_sasl_type": "cyrus",
        "smtpd_sasl_path": "smtpd",
        "cyrus_sasl_config_path": str(sasl),
    }
    services = [
        SmtpdService("tlsfirst", cert, key, {**auth, "smtpd_tls_auth_only": "yes"}),
        SmtpdService("clear", cert, key, {**auth, "smtpd_tls_auth_only": "no"}),
    ]
    try:
        postfix = PostfixTls.start(run / "postfix", services, owner_pid=os.getpid())
    except ServerError as exc:
        shutil.rmtree(run, ignore_errors=True)
        pytest.fail(str(exc), pytrace=False)
    try:
        yield postfix, ca_file
    finally:
        postfix.stop()
        shutil.rmtree(run, ignore_errors=True)


def relay_audit(knot_server, ca_file: Path, port: int) -> tuple[set, dict]:
    proc = cli(
        "domain", "path-relay.test", "--dns-server", knot_server.address, "--no-dkim-discovery",
        "--smtp-port", "1", "--ca-file", str(ca_file), "--helo", RELAY,
        "--smtp-relay", f"{RELAY}:{port}", "--format", "json",
    )  # fmt: skip
    assert proc.returncode in (0, 1, 3), proc.stdout + proc.stderr
    report = report_of(proc.stdout)
    outcome = next(o for o in report["outcomes"] if o["check"] == "sending_paths")
    found = {(f["rule_id"], f["target"]) for f in outcome["findings"]}
    row = outcome["facts"]["sending_paths"]["paths"][0]
    return found, row


def test_auth_only_after_starttls_is_a_near_miss(knot_server, relays):
    postfix, ca_file = relays
    found, row = relay_audit(knot_server, ca_file, postfix.ports["tlsfirst"])
    assert found == set(), found
    smtp = row["smtp"]
    assert smtp["probed"] and smtp["probe"]["status"] == "ok"
    assert smtp["auth_before_tls"] == []
    assert set(smtp["auth_after_tls"]) >= {"PLAIN", "LOGIN"}
    assert smtp["probe"]["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert smtp["certificate"]["name_match"] == RELAY


def test_auth_in_clear_text_is_sub301(knot_server, relays):
    postfix, ca_file = relays
    port = postfix.ports["clear"]
    found, row = relay_audit(knot_server, ca_file, port)
    assert found == {("SUB301", f"{RELAY}:{port}")}, found
    assert {"PLAIN", "LOGIN"} <= set(row["smtp"]["auth_before_tls"])
