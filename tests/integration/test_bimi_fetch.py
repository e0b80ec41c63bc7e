"""BIMI logo and VMC fetch against real servers on loopback: Knot DNS serving zones this module
writes (one domain per scenario, each with DMARC at p=reject so only the assets are judged) and
the test HTTPS server serving the logos and the VMCs (made with the test CA, logotype extension
included) from `logos.bimi-assets.test`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from audit.checks.domain import bimi
from audit.model import CheckResult, Severity, Status
from tests.conftest import pairs
from tests.infra.https_world import HttpsWorld, https_world
from tests.infra.vmc import BAD_SVG, DTD_SVG, GOOD_SVG, make_vmc, oversize_svg
from tests.integration.conftest import _require_knot
from tests.json_output import report_of, reports_of

ASSETS = "logos.bimi-assets.test"
OTHER_LOGO = GOOD_SVG.replace(b"Brand", b"Other")
SVG = "image/svg+xml"
PEM = "application/x-pem-file"


@dataclass
class Scenario:
    expected: set[str]  # rule ids, all with the domain as target
    logo: str = f"https://{ASSETS}/good.svg"
    vmc: dict | None = field(default_factory=dict)  # make_vmc options; None: no a=
    vmc_body: bytes | None = None  # served instead of a made VMC


SCENARIOS: dict[str, Scenario] = {
    "bimi-good.test": Scenario(set()),
    "bimi-novmc.test": Scenario({"BIMI101"}, vmc=None),
    "bimi-badsvg.test": Scenario({"BIMI004"}, f"https://{ASSETS}/bad.svg", {"svg": BAD_SVG}),
    "bimi-dtd.test": Scenario({"BIMI004"}, f"https://{ASSETS}/dtd.svg", {"svg": DTD_SVG}),
    "bimi-big.test": Scenario({"BIMI004"}, f"https://{ASSETS}/big.svg", {"svg": b"-"}),
    "bimi-404.test": Scenario({"BIMI003"}, logo=f"https://{ASSETS}/missing.svg"),
    "bimi-nohost.test": Scenario({"BIMI003"}, logo="https://nowhere.bimi-assets.test/logo.svg"),
    "bimi-untrusted.test": Scenario({"BIMI003"}, logo="https://selfsigned.bimi-assets.test/good.svg"),
    "bimi-expired.test": Scenario(
        {"BIMI005"}, vmc={"not_after": dt.datetime.now(dt.UTC) - dt.timedelta(days=3)}
    ),
    "bimi-nologotype.test": Scenario({"BIMI005"}, vmc={"logotype": False}),
    "bimi-otherdomain.test": Scenario({"BIMI005"}, vmc={"names": ("someone-else.test",)}),
    "bimi-notpem.test": Scenario({"BIMI005"}, vmc_body=b"<html>VMC coming soon</html>"),
    "bimi-logodiffers.test": Scenario({"BIMI005"}, vmc={"svg": OTHER_LOGO}),
}  # fmt: skip


def zone_text(domain: str, record: str) -> str:
    return "\n".join(
        [
            f"$ORIGIN {domain}.",
            "$TTL 300",
            f"@ SOA ns1.{domain}. hostmaster.{domain}. 1 3600 600 86400 300",
            "@ NS ns1",
            "ns1 A 127.0.0.1",
            '@ TXT "v=spf1 -all"',
            f'_dmarc TXT "v=DMARC1; p=reject; rua=mailto:dmarc@{domain}"',
            f'default._bimi TXT "{record}"',
            "",
        ]
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsWorld]:
    _require_knot()

    def populate(world: HttpsWorld) -> None:
        ca, https, zones = world.ca, world.https, world.zones
        (zones / "bimi-assets.test.zone").write_text(
            "$ORIGIN bimi-assets.test.\n$TTL 300\n"
            "@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 127.0.0.1\n"
            "logos A 127.0.0.1\nselfsigned A 127.0.0.1\n"
        )
        https.route(ASSETS, "/good.svg", body=GOOD_SVG, content_type=SVG)
        https.route(ASSETS, "/bad.svg", body=BAD_SVG, content_type=SVG)
        https.route(ASSETS, "/dtd.svg", body=DTD_SVG, content_type=SVG)
        https.route(ASSETS, "/big.svg", body=oversize_svg(), content_type=SVG)
        selfsigned = "selfsigned.bimi-assets.test"
        https.add_host(selfsigned, ca.issue(selfsigned, self_signed=True))
        https.route(selfsigned, "/good.svg", body=GOOD_SVG, content_type=SVG)
        for domain, scenario in SCENARIOS.items():
            record = f"v=BIMI1; l={scenario.logo}"
            if scenario.vmc is not None:
                path = f"/{domain}/vmc.pem"
                record += f"; a=https://{ASSETS}{path}"
                body = scenario.vmc_body or make_vmc(ca, domain, **scenario.vmc)
                https.route(ASSETS, path, body=body, content_type=PEM)
            (zones / f"{domain}.zone").write_text(zone_text(domain, record))

    base = tmp_path_factory.mktemp("bimi")
    with https_world(base, "audit test CA (BIMI)", populate) as world:
        yield world


def run_check(world: HttpsWorld, domain: str, **options) -> CheckResult:
    return asyncio.run(bimi.check(world.context(domain, **options)))


@pytest.mark.parametrize("domain", sorted(SCENARIOS))
def test_scenario(world, domain):
    result = run_check(world, domain)
    expected = {(rule, domain) for rule in SCENARIOS[domain].expected}
    assert pairs(result) == expected, [f.message for f in result.findings]
    assert result.status is Status.COMPLETED
    assert result.facts["bimi"]["logo_checked"] is True


def _finding(result: CheckResult, rule_id: str):
    (finding,) = [f for f in result.findings if f.rule.id == rule_id]
    return finding


def test_good_facts(world):
    facts = run_check(world, "bimi-good.test").facts["bimi"]
    assert facts["dmarc_ready"] is True
    assert facts["logo"]["svg"]["title"] == "Example Brand" and facts["logo"]["svg"]["errors"] == []
    assert facts["logo"]["fetch"]["status"] == 200
    certificate = facts["vmc"]["certificate"]
    assert certificate["names"] == ["bimi-good.test"] and certificate["logotype_extension"]
    assert facts["vmc"]["embedded_logo_matches"] is True


def test_messages_name_the_problem(world):
    bad = _finding(run_check(world, "bimi-badsvg.test"), "BIMI004").message
    for problem in ('baseProfile is None, not "tiny-ps"', "<script> is not allowed", "x="):
        assert problem in bad
    assert "DOCTYPE" in _finding(run_check(world, "bimi-dtd.test"), "BIMI004").message
    assert "over 32 KiB" in _finding(run_check(world, "bimi-big.test"), "BIMI004").message
    assert "HTTP 404" in _finding(run_check(world, "bimi-404.test"), "BIMI003").message
    assert "NXDOMAIN" in _finding(run_check(world, "bimi-nohost.test"), "BIMI003").message
    assert "untrusted" in _finding(run_check(world, "bimi-untrusted.test"), "BIMI003").message
    assert "expired on" in _finding(run_check(world, "bimi-expired.test"), "BIMI005").message
    assert "no logotype extension" in (
        _finding(run_check(world, "bimi-nologotype.test"), "BIMI005").message
    )
    assert "the VMC is for someone-else.test, not bimi-otherdomain.test" in (
        _finding(run_check(world, "bimi-otherdomain.test"), "BIMI005").message
    )
    assert "not a PEM certificate chain" in (
        _finding(run_check(world, "bimi-notpem.test"), "BIMI005").message
    )
    differs = _finding(run_check(world, "bimi-logodiffers.test"), "BIMI005")
    assert differs.effective_severity is Severity.LOW and "differs" in differs.message


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "audit", *args], capture_output=True, text=True, timeout=120
    )


def test_cli(world):
    common = ["--dns-server", world.knot.address, "--format", "json", "--timeout", "3"]
    probes = ["--https-port", str(world.https.port), "--ca-file", str(world.ca_file)]
    probes += ["--allow-private-addresses"]  # the HTTPS server is on loopback
    proc = cli("domain", "bimi-good.test", "bimi-badsvg.test", *common, *probes)
    assert proc.returncode in (0, 1, 3), proc.stderr
    good, bad = (
        next(o for o in r["outcomes"] if o["check"] == "bimi") for r in reports_of(proc.stdout)
    )
    assert good["findings"] == [] and good["facts"]["bimi"]["logo_checked"] is True
    assert [(f["rule_id"], f["target"]) for f in bad["findings"]] == [
        ("BIMI004", "bimi-badsvg.test")
    ]
    off = cli("domain", "bimi-novmc.test", *common, "--no-probes")
    assert off.returncode in (0, 1, 3), off.stderr
    outcome = next(o for o in report_of(off.stdout)["outcomes"] if o["check"] == "bimi")
    assert outcome["findings"] == [] and outcome["facts"]["bimi"]["logo_checked"] is False
