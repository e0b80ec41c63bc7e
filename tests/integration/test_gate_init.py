"""`audit init` against Knot: the selectors found, a file the loader accepts, and the path from
init to a green `audit check` with one accepted exception."""

from __future__ import annotations

from pathlib import Path

from audit.config import load_config
from audit.init_config import _comment
from tests.integration.gate_world import run_audit


def test_init_then_check_with_one_accepted_exception(knot_server, tmp_path: Path):
    dns = knot_server.dns_server
    made = run_audit("init", "dkim-good.test", "dmarc-none.test", "--dns-server", dns,
                     "--no-probes", cwd=tmp_path, state=tmp_path)  # fmt: skip
    assert made.returncode == 0, made.stderr
    path = tmp_path / "audit.toml"
    config = load_config(path)
    assert config is not None
    assert config.domains == ("dkim-good.test", "dmarc-none.test")
    assert config.selectors_for("dkim-good.test") == ("s1", "selector1")
    assert config.selectors_for("dmarc-none.test") == ()
    assert config.dns_servers == (dns,)
    text = path.read_text()
    assert "# DKIM key found at s1._domainkey.dkim-good.test" in text
    assert '# rule = "DMARC101"' in text  # today's finding, ready to accept

    # fail on medium: DMARC101 (p=none) and DKIM001 fail the gate until accepted
    text = text.replace('fail_on = "high"', 'fail_on = "medium"')
    path.write_text(text)
    red = run_audit("check", "--no-probes", cwd=tmp_path, state=tmp_path)
    assert red.returncode == 1
    accepted = text.replace(
        '# [[ignore]]\n# rule = "DMARC101"\n# target = "dmarc-none.test"\n'
        '# reason = "why this is accepted for now"\n# until = 2027-01-01',
        '[[ignore]]\nrule = "DMARC101"\ntarget = "dmarc-none.test"\n'
        'reason = "p=none while the aggregate reports come in"\nuntil = 2999-01-01',
    ).replace(
        '# [[ignore]]\n# rule = "DKIM001"\n# target = "dmarc-none.test"\n'
        '# reason = "why this is accepted for now"',
        '[[ignore]]\nrule = "DKIM001"\ntarget = "dmarc-none.test"\nreason = "does not sign yet"',
    )
    assert accepted.count("\n[[ignore]]") == 2
    path.write_text(accepted)
    green = run_audit("check", "--no-probes", cwd=tmp_path, state=tmp_path)
    assert green.returncode == 0, green.stdout[-3000:]

    again = run_audit("init", "dkim-good.test", "--dns-server", dns, cwd=tmp_path, state=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr  # never overwrites silently


def test_init_bad_domain_is_exit_2(tmp_path: Path):
    proc = run_audit("init", "not a domain", cwd=tmp_path, state=tmp_path)
    assert proc.returncode == 2 and not (tmp_path / "audit.toml").exists()


def test_dns_text_cannot_break_out_of_a_comment():
    assert _comment('x\n[[ignore]]\nrule = "SPF001"') == 'x?[[ignore]]?rule = "SPF001"'
    assert _comment("a\u2028b\x1b[31m") == "a?b?[31m"
