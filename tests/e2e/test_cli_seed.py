"""`audit seed` as a user runs it: init, bad input (exit 2, one line), report of unknown runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_cli import audit, one_line_error


def test_init_writes_an_example_that_loads(tmp_path: Path) -> None:
    target = tmp_path / "seeds.toml"
    proc = audit("seed", "init", str(target))
    assert proc.returncode == 0, proc.stderr
    from audit.seed.config import load_seeds

    seeds = load_seeds(target)
    assert seeds and all(s.password_env for s in seeds)
    again = audit("seed", "init", str(target))
    assert "not overwriting" in one_line_error(again)


@pytest.mark.parametrize(
    ("toml", "extra", "says"),
    [
        ('[[seed]]\naddress = "nope"\n', [], "seeds.toml:1: [[seed]] has no 'imap'"),
        ("this is not toml", [], "seeds.toml:1"),
        (
            '[[seed]]\naddress = "s@x.test"\nimap = "imap://127.0.0.1:1"\n'
            'username = "s"\npassword_env = "AUDIT_TEST_UNSET_VARIABLE"\n',
            [],
            "AUDIT_TEST_UNSET_VARIABLE",
        ),
        (None, ["--via", "ftp://relay"], "--via"),
        (None, ["--from", "not-an-address"], "--from"),
        (None, ["--rate", "0"], "--rate"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    tmp_path: Path, toml: str | None, extra: list[str], says: str
) -> None:
    seeds = tmp_path / "seeds.toml"
    if toml is None:
        audit("seed", "init", str(seeds))
    else:
        seeds.write_text(toml)
    args = ["--from", "news@good.test", "--via", "smtp://127.0.0.1:1", *extra]
    # later options win in click: the parametrized ones override the defaults above
    proc = audit(
        "seed", "run", "--seeds", str(seeds), *args, "--state", str(tmp_path / "s.db"),
        "--wait", "0",
    )  # fmt: skip
    assert says in one_line_error(proc)


def test_report_of_an_unknown_run_is_bad_input(tmp_path: Path) -> None:
    proc = audit("seed", "report", "nope", "--state", str(tmp_path / "s.db"))
    assert "no run 'nope'" in one_line_error(proc)


@pytest.mark.parametrize("option", ["--rate", "--wait", "--timeout"])
def test_non_finite_numbers_are_bad_input(tmp_path: Path, option: str) -> None:
    seeds = tmp_path / "seeds.toml"
    audit("seed", "init", str(seeds))
    proc = audit(
        "seed", "run", "--seeds", str(seeds), "--from", "news@good.test",
        "--via", "smtp://127.0.0.1:1", option, "nan", "--state", str(tmp_path / "s.db"),
    )  # fmt: skip
    assert option in one_line_error(proc) or "positive" in one_line_error(proc)


def test_resume_with_another_from_is_bad_input(tmp_path: Path) -> None:
    from audit.seed.state import RunStore

    seeds = tmp_path / "seeds.toml"
    audit("seed", "init", str(seeds))
    from audit.seed.config import load_seeds

    addresses = [s.address for s in load_seeds(seeds)]
    store = RunStore(tmp_path / "s.db")
    run_id = store.create_run(
        {"from": "news@good.test", "via": "smtp://127.0.0.1:1", "seeds": addresses}
    )
    store.close()
    env_vars = {"SEED1_PASSWORD": "x", "SEED_GMAIL_PASSWORD": "x"}
    import os
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "audit", "seed", "run", "--seeds", str(seeds),
         "--from", "other@good.test", "--via", "smtp://127.0.0.1:1",
         "--state", str(tmp_path / "s.db"), "--resume", run_id],
        capture_output=True, text=True, timeout=60, env={**os.environ, **env_vars},
    )  # fmt: skip
    assert "was started with --from 'news@good.test'" in one_line_error(proc)
