"""What every `audit` command module shares: bad input (exit 2, one line), the DNS and report
options, writing the output and the exit code. The cli_* modules import these from here and
audit.cli only defines the top-level group and registers commands, so no command module imports
audit.cli (no import cycle)."""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from audit.model import Report, Severity, combined_exit_code

if TYPE_CHECKING:
    from audit.history import IndexRows, RunBuffer
    from audit.net.dns import Backend

EXIT_BAD_INPUT = 2
DEFAULT_WIDTH = 100  # terminal text when stdout is not a terminal and COLUMNS is not set
MIN_WIDTH = 40


class BadInput(click.ClickException):
    """Bad input the user can fix: one line on stderr, exit 2."""

    exit_code = EXIT_BAD_INPUT


def _positive_float(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise click.BadParameter("must be a positive number of seconds")
    return value


def check_ca_file(path: str | None) -> str | None:
    """--ca-file must hold at least one PEM certificate: an empty or wrong file would silently
    trust nothing (every probe "untrusted", or no verdict at all)."""
    if path is None:
        return None
    from cryptography import x509

    try:
        certificates = x509.load_pem_x509_certificates(Path(path).read_bytes())
    except (OSError, ValueError):
        certificates = []
    if not certificates:
        raise BadInput(f"--ca-file {path!r} holds no PEM certificate")
    return path


def dns_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--dns-server, --zone-dir and --timeout: every command that looks anything up takes them."""
    fn = click.option(
        "--timeout",
        type=float,
        default=5.0,
        show_default=True,
        callback=_positive_float,
        metavar="SECONDS",
        help="Timeout for each network operation.",
    )(fn)
    fn = click.option(
        "--zone-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Answer DNS from the *.zone files in DIR (fully offline).",
    )(fn)
    fn = click.option(
        "--dns-server",
        "dns_servers",
        multiple=True,
        metavar="IP[:PORT]",
        help="Ask this DNS server instead of the system resolver (repeatable): IP, IP:PORT, "
        "IPv6 or [IPv6]:PORT.",
    )(fn)
    return fn


def _backend(dns_servers: tuple[str, ...], zone_dir: Path | None, timeout: float) -> Backend:
    from audit.cli_inputs import dns_server
    from audit.net.dns import build_backend

    if zone_dir is not None and dns_servers:
        raise BadInput("give either --zone-dir or --dns-server, not both")
    try:
        checked = [dns_server(text) for text in dns_servers]  # strict: '[' is not a server
        servers = [f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in checked]
        return build_backend(servers, zone_dir, timeout)
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot write {str(output)!r}: {exc.strerror}") from None


def output_width(to_terminal: bool) -> int:
    """COLUMNS when set (as ls and git honour it), else the terminal's width, else 100."""
    import os
    import shutil

    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return max(int(columns), MIN_WIDTH)
    if to_terminal:
        return max(shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns, MIN_WIDTH)
    return DEFAULT_WIDTH


def text_style(fmt: str, output: Path | None) -> tuple[bool, int]:
    """(color, width) for a rendering: color only for terminal text going to a terminal's
    stdout; the width from COLUMNS or that terminal (output_width)."""
    to_terminal = output is None and sys.stdout.isatty()
    return to_terminal and fmt == "terminal", output_width(to_terminal)


def progress_wanted() -> bool:
    """Progress lines and bars go to stderr only when it is a terminal and -q was not given
    (-q: only errors on stderr)."""
    root = click.get_current_context(silent=True)
    quiet = bool(root and (root.find_root().obj or {}).get("quiet"))
    return sys.stderr.isatty() and not quiet


def _render_and_exit(reports: list[Report], fmt: str, output: Path | None, fail_on: str) -> None:
    from audit.json_document import jsonl_line
    from reports import render

    lines = [jsonl_line(r) for r in reports] if fmt == "jsonl" else None
    if lines is not None:  # each report serialised once: the output and the history share it
        _emit("".join(lines), output)
    else:
        color, width = text_style(fmt, output)
        _emit(render(fmt, reports, color=color, width=width, fail_on=fail_on), output)
    code = combined_exit_code(reports, Severity.parse(fail_on))
    # when the command takes --history; never fails the run
    record_run(reports, code, fail_on, texts=lines)
    sys.exit(code)


FORMAT_CHOICES = ("terminal", "json", "html", "sarif", "junit", "markdown", "jsonl")
SEVERITY_CHOICES = tuple(s.value for s in Severity)


def report_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--format, --output and --fail-on: every command that ends in a Report takes them."""
    fn = click.option(
        "--fail-on",
        type=click.Choice(SEVERITY_CHOICES),
        default="high",
        show_default=True,
        help="Exit 1 when a finding is at or above this severity.",
    )(fn)
    fn = click.option(
        "--output",
        "-o",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        metavar="FILE",
        help="Write the report to FILE instead of standard output.",
    )(fn)
    fn = click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMAT_CHOICES),
        default="terminal",
        show_default=True,
        help="Report format: terminal text, JSON ({schema_version, reports: [...]}), JSONL (one "
        "report per line as each target finishes), a self-contained HTML file, SARIF (one run, "
        "for code scanning), JUnit XML or Markdown.",
    )(fn)
    return fn


LOG_LEVEL_ENV = "AUDIT_LOG_LEVEL"


def configure_logging(verbose: int, quiet: bool) -> None:
    """Log lines go to stderr: warnings by default, -v info, -vv debug, -q errors only;
    AUDIT_LOG_LEVEL (DEBUG, INFO, WARNING, ERROR) when neither flag is given."""
    import logging
    import os

    if quiet:
        level = logging.ERROR
    elif verbose:
        level = logging.INFO if verbose == 1 else logging.DEBUG
    else:
        named = os.environ.get(LOG_LEVEL_ENV, "").strip().upper()
        known = getattr(logging, named, None) if named else logging.WARNING
        if not isinstance(known, int):
            raise BadInput(f"{LOG_LEVEL_ENV}={named!r}: use DEBUG, INFO, WARNING or ERROR")
        level = known
    logging.basicConfig(level=level, format="audit: %(levelname)s: %(name)s: %(message)s")
    logging.getLogger().setLevel(level)


def max_size_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--max-size MIB: `audit message` and the `audit receive` inbox share limit and default."""
    return click.option(
        "--max-size",
        type=click.IntRange(min=1, max=200),
        default=25,
        show_default=True,
        metavar="MIB",
        help=help_text,
    )


# Run history: the options are kept in the Click context (not passed to the command), so a
# command gains history with one decorator and render_and_exit records what it rendered.
_META = "audit.history"


def history_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--history FILE and --no-history, kept in ctx.meta for record_run()."""

    @functools.wraps(fn)
    def wrapper(*args: Any, history: Path | None, no_history: bool, **kwargs: Any) -> Any:
        click.get_current_context().meta[_META] = (history, no_history)
        return fn(*args, **kwargs)

    wrapper = click.option(
        "--no-history", is_flag=True, help="Do not record this run in the run history."
    )(wrapper)
    return click.option(
        "--history",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        metavar="FILE",
        help="The run history (SQLite; default ~/.local/state/audit/history.sqlite3).",
    )(wrapper)


def history_path(explicit: Path | None = None) -> Path:
    from audit.history import default_history_path

    return explicit or default_history_path()


def record_run(
    reports: Sequence[Report],
    exit_code: int,
    fail_on: Severity | str = Severity.HIGH,
    config: str | None = None,
    texts: Sequence[str] | None = None,
) -> str | None:
    """Record the run when the current command asked for history; the run id, or None.
    `texts`: the reports' JSON texts when the caller has them already (its JSONL lines)."""
    run = StreamedRun(fail_on)
    for i, report in enumerate(reports):
        run.add(report, texts[i].rstrip("\n") if texts is not None else None)
    return run.finish(exit_code, config)


class StreamedRun:
    """A run recorded report by report as it streams (a batch, `--jobs`), written at the end
    when the current command asked for history. Never fails the run: an error is one warning
    and the rest of the run goes unrecorded."""

    def __init__(self, fail_on: Severity | str = Severity.HIGH) -> None:
        from audit.history import RunBuffer

        ctx = click.get_current_context(silent=True)
        settings = ctx.meta.get(_META) if ctx is not None else None
        self.command = (ctx.info_name if ctx is not None else None) or "audit"
        self.explicit: Path | None = settings[0] if settings else None
        self.run: RunBuffer | None = None
        if settings is not None and not settings[1]:
            threshold = fail_on if isinstance(fail_on, Severity) else Severity.parse(fail_on)
            self.run = RunBuffer(threshold)

    def add(self, report: Report, as_json: str | None = None) -> None:
        if self.run is None:
            return
        try:
            self.run.add(report, as_json)
        except Exception as exc:  # noqa: BLE001 - history must never fail a run
            self._give_up(exc)

    def add_indexed(self, line: str, rows: IndexRows) -> None:
        """One report as its JSON line and its history index rows (`--jobs` workers send
        both: the parent never parses a line back)."""
        if self.run is None:
            return
        try:
            self.run.add_indexed(line.rstrip("\n"), rows)
        except Exception as exc:  # noqa: BLE001 - history must never fail a run
            self._give_up(exc)

    def finish(self, exit_code: int, config: str | None = None) -> str | None:
        """Write the run; its id, or None when not recorded."""
        from audit.history import HistoryStore

        if self.run is None:
            return None
        try:
            return HistoryStore(history_path(self.explicit)).save(
                self.command, self.run, exit_code, config=config
            )
        except Exception as exc:  # noqa: BLE001 - history must never fail a run
            self._give_up(exc)
            return None

    def _give_up(self, exc: Exception) -> None:
        click.echo(f"audit: warning: run not recorded in the history: {exc}", err=True)
        self.run = None
