"""`audit init` writes each provider the domain audit detected (ESP001) as a commented
`[[path]]` table that loads once uncommented (issue 12: "pre-filled from detection")."""

from __future__ import annotations

from audit.config import parse_config
from tests.conftest import ZONES
from tests.e2e.test_cli import audit


def _uncommented_path(text: str) -> str:
    lines = text.splitlines()
    start = lines.index("# [[path]]")
    block = []
    for line in lines[start:]:
        if not line.startswith("# ") or line.startswith("# Accepted"):
            break
        block.append(line[2:].split("   #", 1)[0])
    return "\n".join(block) + "\n"


def test_detected_provider_becomes_a_path_table() -> None:
    proc = audit("init", "esp-sendgrid.test", "--zone-dir", str(ZONES), "--output", "-")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "# Provider detected for esp-sendgrid.test: sendgrid, from:" in text
    assert '#   esp-sendgrid.test TXT "v=spf1 include:sendgrid.net -all"' in text
    config = parse_config('domains = ["esp-sendgrid.test"]\n' + _uncommented_path(text))
    (path,) = config.paths
    assert (path.esp, path.dkim_selectors) == ("sendgrid", ("s1", "s2"))
    assert path.return_path == "bounces.esp-sendgrid.test"


def test_no_provider_no_path_table() -> None:
    proc = audit("init", "dmarc-none.test", "--zone-dir", str(ZONES), "--output", "-")
    assert proc.returncode == 0, proc.stderr
    assert "Provider detected" not in proc.stdout and "# [[path]]" not in proc.stdout
