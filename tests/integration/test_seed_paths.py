"""`audit seed run --path NAME` on the loopback mail system: the run goes through the [[path]]
of the project config (its smtp relay, no --via) and the path's prediction from the domain
audit (the shared prediction: SPF for its IPs, aligned DKIM, DMARC) is held against what each
receiver's Authentication-Results say."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.integration.test_seed_run import WAIT, _report, seed_env


def path_run(ms, tmp_path: Path, domain: str):
    (tmp_path / "audit.toml").write_text(f'''
[[path]]
name = "relay"
ips = ["127.0.0.1"]
dkim_selectors = ["{ms.dkim_selector}"]
smtp = "{ms.host}:{ms.submission_port}"
''')
    seeds = tmp_path / "seeds.toml"
    seeds.write_text(ms.seeds_toml())
    command = [
        sys.executable, "-m", "audit", "seed", "run", "--seeds", str(seeds),
        "--from", f"news@{domain}", "--path", "relay", "--ca-file", str(ms.ca_file),
        "--dns-server", ms.dns_server, "--state", str(tmp_path / "s.db"), "--wait", WAIT,
        "--rate", "20", "--timeout", "5", "--format", "json",
    ]  # fmt: skip
    proc = subprocess.run(
        command, capture_output=True, text=True, timeout=240, cwd=tmp_path,
        env=seed_env(ms, AUDIT_SMTP_PASSWORD=""),
    )  # fmt: skip
    report = _report(proc, ms)
    predictions = next(o for o in report["outcomes"] if o["check"] == "predictions")
    return report, predictions["facts"]["path"], predictions["findings"]


def test_path_prediction_confirmed_by_the_receivers(mail_system, tmp_path):
    report, path, findings = path_run(mail_system, tmp_path, mail_system.good_domain)
    assert report["outcomes"][0]["facts"]["run"]["via"].startswith("smtp://127.0.0.1:")
    assert path["predicted"] == {"spf": "pass", "dkim-aligned": "pass", "dmarc": "pass"}
    delivered = {"seed1@seeds.test", "seed2@seeds.test", "seed3@seeds.test"}
    assert {c["seed"] for c in path["checks"]} == delivered
    assert all(c["agree"] for c in path["checks"]), path["checks"]
    assert len(path["checks"]) == 9  # three methods, three receivers
    assert findings == []


def test_path_prediction_contradicted_by_the_receivers(mail_system, tmp_path):
    _report_doc, path, findings = path_run(mail_system, tmp_path, mail_system.broken_domain)
    # the key in DNS is valid, so the path should pass DKIM aligned and DMARC with it; the
    # signer holds another key: every receiver says dkim=fail, dmarc=fail
    assert path["predicted"] == {"spf": "softfail", "dkim-aligned": "pass", "dmarc": "pass"}
    disagree = {(c["seed"], c["method"]) for c in path["checks"] if not c["agree"]}
    assert disagree == {
        (s, m)
        for s in ("seed1@seeds.test", "seed2@seeds.test", "seed3@seeds.test")
        for m in ("dkim-aligned", "dmarc")
    }
    path_findings = [f for f in findings if f["message"].startswith("path relay:")]
    assert {(f["rule_id"], f["target"]) for f in path_findings} == {
        ("SEED406", s) for s in ("seed1@seeds.test", "seed2@seeds.test", "seed3@seeds.test")
    }
    assert any("predicted dmarc pass" in f["message"] and "says fail" in f["message"]
               for f in path_findings)  # fmt: skip
