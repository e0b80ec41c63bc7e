"""The `audit dmarc-reports` HTML opened in headless Chromium: the inline SVG charts render as
elements, and text from the report files (which strangers send) stays text."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import ZONES
from tests.e2e.test_cli import audit
from tests.e2e.test_html_chromium import HOSTILE, _chromium, _dom
from tests.infra.dmarc_report_files import aggregate_xml

DOMAIN = "reports-own.test"


def test_dmarc_report_charts_render_and_hostile_text_stays_text(tmp_path: Path) -> None:
    rows = [
        {"ip": "203.0.113.25", "count": 90, "dkim": "pass", "spf": "pass",
         "auth_dkim": [(DOMAIN, "pass", "s1")], "auth_spf": [(DOMAIN, "pass")]},
        {"ip": "198.18.7.9", "count": 10, "dkim": "fail", "spf": "fail",
         "auth_dkim": [(f"x{HOSTILE}", "fail", "s")], "auth_spf": [(DOMAIN, "fail")]},
    ]  # fmt: skip
    report = tmp_path / "r.xml"
    report.write_bytes(aggregate_xml("google", DOMAIN, rows, org_name=HOSTILE))
    out = tmp_path / "dmarc.html"
    proc = audit("dmarc-reports", str(report), "--zone-dir", str(ZONES), "--format", "html",
                 "-o", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    dom = _dom(out.read_text(encoding="utf-8"), tmp_path)
    body = dom.split("<body", 1)[1]
    assert len(re.findall(r"<svg[^>]*class=\"chart\"", body)) == 3  # the charts are elements
    assert len(re.findall(r"<rect ", body)) >= 6
    assert "<script" not in body and "<img" not in body
    assert "&lt;script&gt;document.title" in body  # the hostile DKIM d= is shown as text
    assert re.search(r"<title>audit: reports-own.test</title>", dom)  # nothing rewrote it
    shot = _chromium("--screenshot=shot.png", "--window-size=1200,1400", out.as_uri(),
                     tmp_path=tmp_path)  # fmt: skip
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert (tmp_path / "shot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
