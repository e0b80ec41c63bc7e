"""The HTML report opened in headless Chromium: it renders, and text taken from DNS or
messages stays text (no element, script or link appears from it), CSP or not."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from audit.model import CheckOutcome, Finding, Report, Status
from audit.rules import get_rule
from audit.seed.confirm import SeedObservation, confirm
from reports import render
from tests.conftest import ZONES
from tests.e2e.test_cli import audit
from tests.infra.require import skip_or_fail

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HOSTILE = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'


def _chromium(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    if CHROMIUM is None:
        skip_or_fail("chromium is not installed: run tests/infra/install.sh")
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]  # fmt: skip
    return subprocess.run(
        [CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )


def _dom(html: str, tmp_path: Path) -> str:
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    proc = _chromium("--dump-dom", page.as_uri(), tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _hostile_report() -> Report:
    finding = Finding(get_rule("SPF201"), f"x{HOSTILE}.test", f"record {HOSTILE}", [HOSTILE])
    seeds = confirm(
        [SeedObservation("a@seeds.test", folder=HOSTILE, placement="spam")], None, "x.test"
    )
    return Report(
        kind="seed",
        target=f"news@x.test {HOSTILE}",
        outcomes=[CheckOutcome("spf", "x.test", Status.COMPLETED, findings=[finding]), *seeds],
    )


def test_hostile_text_renders_as_text(tmp_path: Path) -> None:
    dom = _dom(render("html", [_hostile_report()], fail_on="high"), tmp_path)
    title = re.search(r"<title>(.*?)</title>", dom, flags=re.S).group(1)
    assert title.startswith("audit: news@x.test &lt;img")  # nothing ran and rewrote it
    body = dom.split("<body", 1)[1]
    assert "<script" not in body and "<img" not in body  # nothing became an element
    assert "&lt;script&gt;document.title" in body  # ... it is shown as text
    assert "SPF201" in body and "a@seeds.test" in body


def test_cli_report_renders_and_screenshots(tmp_path: Path) -> None:
    out = tmp_path / "domain.html"
    proc = audit("domain", "spf-too-many.test", "--zone-dir", str(ZONES), "--format", "html",
                 "--output", str(out))  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    dom = _dom(out.read_text(encoding="utf-8"), tmp_path)
    assert "SPF include tree" in dom and "SPF201" in dom
    shot = _chromium("--screenshot=shot.png", "--window-size=1200,900", out.as_uri(),
                     tmp_path=tmp_path)  # fmt: skip
    assert shot.returncode == 0, shot.stderr[-2000:]
    png = (tmp_path / "shot.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_sending_paths_section_renders(tmp_path: Path) -> None:
    out = tmp_path / "paths.html"
    proc = audit("domain", "path-sg-default.test", "--zone-dir", str(ZONES), "--esp", "sendgrid",
                 "--no-dkim-discovery", "--format", "html", "--output", str(out))  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    dom = _dom(out.read_text(encoding="utf-8"), tmp_path)
    assert ">Sending paths</h3>" in dom
    table = dom.split('<table class="paths">', 1)[1].split("</table>", 1)[0]
    row = re.search(r'<tr class="path-row">(.*?)</tr>', table, flags=re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
    assert cells[:3] == ["sendgrid (SendGrid (Twilio))", "declared", "sendgrid.net"]
    assert cells[7:12] == ["fail", "reject", "sendgrid.net", "sendgrid.net", "sendgrid.net"]
    assert "s1._domainkey.path-sg-default.test CNAME s1.domainkey.u*.wl*.sendgrid.net" in table


def test_hostile_path_facts_stay_text(tmp_path: Path) -> None:
    facts = {"sending_paths": {"from_domain": "x.test", "paths": [{
        "name": HOSTILE, "origin": "detected", "envelope_domain": f"b.{HOSTILE}",
        "spf": {"result": "pass"}, "dkim": {"state": "ok", "d": [HOSTILE]},
        "alignment": {"spf": {"rfc7489": True, "rfc9989": True}, "dkim": True},
        "dmarc": "pass", "disposition": "none", "bounces_ok": True, "fixes": [HOSTILE],
        "gmail": {"mailed_by": HOSTILE, "signed_by": None, "via": None},
    }]}}  # fmt: skip
    report = Report(
        "domain", "x.test", [CheckOutcome("sending_paths", "x.test", Status.COMPLETED, facts)]
    )
    dom = _dom(render("html", [report], fail_on="high"), tmp_path)
    body = dom.split("<body", 1)[1]
    assert "<script" not in body and "<img" not in body
    assert 'class="paths"' in body and "&lt;script&gt;document.title" in body
