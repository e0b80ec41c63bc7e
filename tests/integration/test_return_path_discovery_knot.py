"""`--return-path-discovery` through the CLI against Knot: in a `--from-file` list (quick by
default) a domain whose SPF includes a provider with a custom return path still gets its bounce
name asked (ESP001 from return-path-cname), while a domain showing a provider only through its
return-path CNAME is not asked at all (nothing detected, `return_path_names_tried` empty, no
such question in the report's query log); `--return-path-discovery full` and a single-domain
run find it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from audit.esp.detect import return_path_names
from audit.esp.profiles import load_profiles
from tests.conftest import ZONES
from tests.integration.conftest import start_knot
from tests.json_output import report_of

HEAD = """$ORIGIN {origin}.
$TTL 300
@    SOA  ns1.{origin}. hostmaster.{origin}. 1 3600 600 86400 300
@    NS   ns1
ns1  A    127.0.0.1
"""
# (a) SendGrid shown by the SPF include, and its return path CNAMEd at a common bounce name
SPF_AND_BOUNCE = """@          MX    10 mx.rpq-include.test.
mx         A     192.0.2.25
@          TXT   "v=spf1 include:sendgrid.net -all"
bounce     CNAME u123.wl45.sendgrid.net.
"""
# (b) Postmark's return path and nothing else that shows Postmark
ONLY_BOUNCE = """@          MX    10 mx.rpq-only.test.
mx         A     192.0.2.26
@          TXT   "v=spf1 ip4:192.0.2.26 -all"
pm-bounces CNAME pm.mtasv.net.
"""
ALL_NAMES = return_path_names(load_profiles())


@pytest.fixture(scope="module")
def knot(tmp_path_factory):
    zones = tmp_path_factory.mktemp("rpq-zones")
    for provider in ("sendgrid.net", "mtasv.net"):  # the CNAME targets, as in the fixtures
        shutil.copy(ZONES / f"{provider}.zone", zones / f"{provider}.zone")
    for origin, body in (("rpq-include.test", SPF_AND_BOUNCE), ("rpq-only.test", ONLY_BOUNCE)):
        (zones / f"{origin}.zone").write_text(HEAD.format(origin=origin) + body)
    server = start_knot(tmp_path_factory.mktemp("rpq-knot"), zones)
    try:
        yield server
    finally:
        server.stop()


def _audit(args: list[str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "audit", "domain", *args, "--no-probes"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode in (0, 1, 3), proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def _list_run(tmp_path: Path, knot, *extra: str) -> dict[str, dict]:
    listing, out = tmp_path / "domains.txt", tmp_path / "out.jsonl"
    listing.write_text("rpq-include.test\nrpq-only.test\n")
    _audit(["--from-file", str(listing), "--dns-server", knot.address, "--format", "jsonl",
            "-o", str(out), *extra])  # fmt: skip
    return {r["target"]: r for r in map(json.loads, out.read_text().splitlines())}


def _outcome(report: dict, check: str) -> dict:
    return next(o for o in report["outcomes"] if o["check"] == check)


def _vias(report: dict) -> set[tuple[str, str, str]]:
    providers = _outcome(report, "esp")["facts"]["providers"]
    return {(p["profile_id"], p["via"], p["name"]) for p in providers}


def _mx_asked(report: dict) -> set[str]:
    return {q["name"] for q in report["queries"] if q["type"] == "MX"}


def test_quick_list_asks_the_bounce_names_only_where_a_provider_shows(tmp_path, knot):
    # quick: the default with --from-file; two worker processes carry the mode too
    reports = _list_run(tmp_path, knot, "--jobs", "2")
    include = reports["rpq-include.test"]
    esp = _outcome(include, "esp")
    assert [(f["rule_id"], f["target"]) for f in esp["findings"]] == [
        ("ESP001", "rpq-include.test")
    ]
    assert esp["findings"][0]["message"] == (
        "SendGrid (Twilio) (sendgrid) detected from spf-include, return-path-cname"
    )
    assert ("sendgrid", "return-path-cname", "bounce.rpq-include.test") in _vias(include)
    assert esp["facts"]["return_path_names_tried"] == ALL_NAMES
    assert "mg.rpq-include.test" in _mx_asked(include)

    only = reports["rpq-only.test"]
    esp = _outcome(only, "esp")
    assert esp["status"] == "completed"
    assert esp["findings"] == [] and esp["facts"]["providers"] == []
    assert esp["facts"]["return_path_names_tried"] == []
    assert _mx_asked(only) == {"rpq-only.test"}  # no return-path name was asked
    paths = _outcome(only, "sending_paths")["facts"]["sending_paths"]
    assert not paths.get("paths")  # no detected provider, so no path to judge


def test_full_list_finds_the_provider_seen_only_through_its_return_path(tmp_path, knot):
    reports = _list_run(tmp_path, knot, "--return-path-discovery", "full")
    only = reports["rpq-only.test"]
    esp = _outcome(only, "esp")
    assert [(f["rule_id"], f["target"]) for f in esp["findings"]] == [("ESP001", "rpq-only.test")]
    assert esp["findings"][0]["message"] == (
        "Postmark (ActiveCampaign) (postmark) detected from return-path-cname"
    )
    assert _vias(only) == {("postmark", "return-path-cname", "pm-bounces.rpq-only.test")}
    assert esp["facts"]["return_path_names_tried"] == ALL_NAMES
    assert {f"{n}.rpq-only.test" for n in ALL_NAMES} <= _mx_asked(only)
    assert ("sendgrid", "return-path-cname", "bounce.rpq-include.test") in _vias(
        reports["rpq-include.test"]
    )


def test_a_single_domain_run_stays_full(knot):
    proc = _audit(["rpq-only.test", "--dns-server", knot.address, "--format", "json"])
    report = report_of(proc.stdout)
    assert _vias(report) == {("postmark", "return-path-cname", "pm-bounces.rpq-only.test")}
    assert _outcome(report, "esp")["facts"]["return_path_names_tried"] == ALL_NAMES
    quick = _audit(["rpq-only.test", "--dns-server", knot.address, "--format", "json",
                    "--return-path-discovery", "quick"])  # fmt: skip
    assert _vias(report_of(quick.stdout)) == set()


def test_a_bad_mode_is_one_line_and_exit_2(knot):
    proc = subprocess.run(
        [sys.executable, "-m", "audit", "domain", "rpq-only.test", "--dns-server", knot.address,
         "--return-path-discovery", "some"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "--return-path-discovery" in proc.stderr
