"""Run history on the command line: `--history FILE` / `--no-history` on the commands that
record (domain, message, check), `audit history TARGET` and `audit diff RUN_A RUN_B`.

The options are stored in the Click context (not passed to the command), so a command gains
history with one decorator and its `_render_and_exit` records what it rendered. Recording never
fails a run: any error is one warning line on stderr.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from audit.cli_common import history_path
from audit.json_document import dumps, json_document, report_dicts
from audit.model import Report


def _store(explicit: Path | None):
    from audit.history import HistoryStore

    return HistoryStore(history_path(explicit))


@click.command()
@click.argument("target")
@click.option("--history", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="FILE", help="The run history to read.")  # fmt: skip
@click.option("--limit", type=click.IntRange(1, 10000), default=20, show_default=True,
              help="How many runs to list.")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(("terminal", "json")), default="terminal",
              show_default=True, help="Output format.")  # fmt: skip
def history(target: str, history: Path | None, limit: int, fmt: str) -> None:
    """The recorded runs that audited TARGET (a domain, a message file, a config), newest first."""
    from audit.cli_common import BadInput
    from audit.history import HistoryError

    try:
        runs = _store(history).runs_for(target, limit)
    except HistoryError as exc:
        raise BadInput(str(exc)) from None
    if fmt == "json":
        click.echo(dumps(json_document("runs", (r.to_dict() for r in runs))), nl=False)
        return
    if not runs:
        click.echo(f"no recorded run audited {target}")
        return
    click.echo(f"{'run':<24} {'when (UTC)':<26} {'command':<8} {'exit':>4} {'findings':>8}")
    for run in runs:
        click.echo(
            f"{run.id:<24} {run.created:<26} {run.command:<8} {run.exit_code:>4} "
            f"{run.findings:>8}"
        )


def _side(ref: str, store_path: Path | None) -> tuple[list[Report], str]:
    """A run id from the history, or a JSON report file (the envelope, or schema 1's one
    report or array)."""
    from audit.cli_common import BadInput
    from audit.history import HistoryError
    from audit.report_load import report_from_dict

    path = Path(ref)
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return [report_from_dict(d) for d in report_dicts(data)], ref
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise BadInput(f"{ref}: not an audit JSON report ({exc})") from None
    try:
        return _store(store_path).load(ref), ref
    except HistoryError as exc:
        raise BadInput(f"{ref!r} is neither a JSON report file nor a recorded run: {exc}") from None


@click.command()
@click.argument("run_a")
@click.argument("run_b")
@click.option("--history", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="FILE", help="The run history the run ids are in.")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(("terminal", "json", "html")),
              default="terminal", show_default=True, help="Output format.")  # fmt: skip
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to FILE instead of standard output.")  # fmt: skip
def diff(run_a: str, run_b: str, history: Path | None, fmt: str, output: Path | None) -> None:
    """What changed from RUN_A to RUN_B (run ids from `audit history`, or two JSON reports):
    findings new, resolved and unchanged, and the DNS answers that changed."""
    from audit.cli_common import _emit
    from audit.drift import compare
    from reports.diff import render_diff

    before, label_a = _side(run_a, history)
    after, label_b = _side(run_b, history)
    _emit(render_diff(fmt, compare(before, after, label_a, label_b)), output)


def since_drift(reports: list[Report], since: str, run_id: str | None, config: str | None,
                explicit: Path | None) -> str:  # fmt: skip
    """The terminal diff of this check run against `since` ("last": the previous check run of
    the same config), or a note saying there is nothing to compare with."""
    from audit.drift import compare
    from audit.history import HistoryError
    from reports.diff import render_diff_terminal

    store = _store(explicit)
    try:
        ref = store.last_run("check", config, before=run_id) if since == "last" else since
        if ref is None:
            return "drift: no previous `audit check` run of this config in the history\n"
        before = store.load(ref)
    except HistoryError as exc:
        return f"drift: {exc}\n"
    label = f"{ref} (previous run)" if since == "last" else ref
    return render_diff_terminal(compare(before, reports, label, run_id or "this run"))


def emit_drift(text: str, on_stdout: bool) -> None:
    """After a terminal report on stdout, else on stderr (a machine format on stdout stays
    parseable)."""
    click.echo(("\n" + text) if on_stdout else text, nl=False, err=not on_stdout)
