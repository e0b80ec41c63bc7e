"""`audit domain --from-file`: the batch mode's command-line side.

Reads the list, skips what a --resume file already holds, streams each report to the output as
it finishes (JSONL lines or the JSON document's `reports` list, flushed), shows a progress bar
on a terminal's stderr, and ends with a summary (terminal, Markdown, HTML). Ctrl-C (or SIGTERM)
stops the run between two writes, so the output keeps only whole lines; the run then exits 130.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import click

from audit.batch import BadLine, DomainList, audit_batch, done_targets, open_for_append
from audit.batch import read_domain_list as parse_list
from audit.cli_common import StreamedRun, progress_wanted
from audit.event_loop import run as run_loop
from audit.json_document import jsonl_line
from audit.model import EXIT_INTERNAL_ERROR, SCHEMA_VERSION, Report, Severity
from audit.runner import relax_gc

EXIT_INTERRUPTED = 130
STREAMED = ("jsonl", "json")
SUMMARIZED = ("terminal", "html", "markdown")
GATE_ORDER = (1, EXIT_INTERNAL_ERROR, 3)  # as combined_exit_code: fail, then crash, then unknown


def read_domain_list(source: str, given: tuple[str, ...]) -> DomainList:
    """The list from FILE or `-` (stdin); names also given as arguments count once."""
    from audit.cli_common import BadInput

    if source == "-":
        return parse_list(sys.stdin, given)
    try:
        with open(source, encoding="utf-8", errors="replace") as stream:
            return parse_list(stream, given)
    except FileNotFoundError:
        raise BadInput(f"--from-file {source!r} does not exist") from None
    except IsADirectoryError:
        raise BadInput(f"--from-file {source!r} is a directory") from None
    except OSError as exc:
        raise BadInput(f"cannot read --from-file {source!r}: {exc.strerror}") from None


class Sink:
    """Where reports go as they finish: JSONL lines, or the JSON document's `reports` list one
    element at a time (audit/json_document.py's envelope), each write flushed."""

    def __init__(self, fmt: str, stream: IO[str], close: bool) -> None:
        self.fmt, self.stream, self.close_stream = fmt, stream, close
        self.count = 0
        if fmt == "json":  # the envelope of every JSON output, its list streamed element-wise
            stream.write(f'{{\n"schema_version": {SCHEMA_VERSION},\n"reports": [')

    def write(self, report: Report, line: str | None = None) -> None:
        """Write `report`; `line` is its JSON Lines text when the caller has it already (then
        the report is not serialised again: a worker's digest has no facts to serialise)."""
        line = line if line is not None else report.rendered
        if self.fmt == "jsonl":
            self.write_line(line if line is not None else jsonl_line(report))
            return
        data = json.loads(line) if line is not None else report.to_dict()
        body = json.dumps(data, indent=2, ensure_ascii=False, default=str)
        self.write_line(("," if self.count else "") + "\n" + body)

    def write_line(self, text: str) -> None:
        """Write one already rendered piece (a JSONL line, an element of `reports`), flushed."""
        try:
            self.stream.write(text)  # one call per report: a signal cannot land inside it
            self.stream.flush()
        except OSError as exc:  # disk full, a closed pipe: stop the run, say so in one line
            from audit.cli_common import BadInput

            raise BadInput(f"cannot write the output: {exc.strerror or exc}") from None
        self.count += 1

    def close(self) -> None:
        if self.fmt == "json":
            self.stream.write("\n]\n}\n")
        self.stream.flush()
        if self.close_stream:
            self.stream.close()


def _open_sink(fmt: str, output: Path | None, resume: Path | None) -> Sink | None:
    from audit.cli_common import BadInput

    if fmt not in STREAMED:
        return None
    if output is None:
        return Sink(fmt, sys.stdout, close=False)
    try:
        if resume is not None and output.resolve() == resume.resolve():
            return Sink(fmt, open_for_append(output), close=True)
        return Sink(fmt, output.open("w", encoding="utf-8"), close=True)
    except OSError as exc:
        raise BadInput(f"cannot write {str(output)!r}: {exc.strerror}") from None


class Progress:
    """done/total, rate, ETA and failures so far on stderr; nothing when stderr is no TTY."""

    def __init__(self, total: int) -> None:
        self.bar = None
        if not progress_wanted() or total == 0:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        self.bar = RichProgress(
            TextColumn("auditing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[failing]} failing, {task.fields[unknown]} inconclusive"),
            console=Console(stderr=True),
        )
        self.task = self.bar.add_task("audit", total=total, rate="", failing=0, unknown=0)
        self.failing = self.unknown = 0
        self.bar.start()

    def advance(self, code: int) -> None:
        if self.bar is None:
            return
        self.failing += code == 1
        self.unknown += code == 3
        speed = self.bar.tasks[0].speed
        rate = f"{speed:.1f}/s" if speed else ""
        self.bar.update(self.task, advance=1, rate=rate, failing=self.failing, unknown=self.unknown)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


async def _until_interrupted(work: Callable[[], Any]) -> bool:
    """Runs `work()`; SIGINT/SIGTERM cancel it between two event-loop steps (never inside a
    write). Returns True when interrupted."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work())
    interrupted = False

    def stop() -> None:
        nonlocal interrupted
        interrupted = True
        task.cancel()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop)
            installed.append(sig)
    try:
        await task
    except asyncio.CancelledError:
        if not interrupted:
            raise
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
    return interrupted


def run_domain_batch(
    names: list[str],
    bad: list[BadLine],
    source: str,
    backend,
    audit_options: dict[str, Any],
    *,
    concurrency: int,
    fmt: str,
    output: Path | None,
    resume: Path | None,
    fail_on: str,
    runner: Callable[..., Any] | None = None,
    jobs: int | None = None,
    dns: tuple[tuple[str, ...], Path | None, float] | None = None,
) -> None:
    """Audit `names` as a stream and exit: 1 a domain failed, 3 inconclusive, 2 bad input
    lines were skipped (after the run), 130 interrupted."""
    from audit.cli_common import BadInput, _emit, text_style
    from reports.batch import BatchSummary, render_batch

    if fmt not in STREAMED + SUMMARIZED:
        raise BadInput(
            f"--format {fmt} needs every report in memory; for a domain list use jsonl, json, "
            "terminal, html or markdown"
        )
    summary = BatchSummary(fail_on=Severity.parse(fail_on))
    summary.bad_lines = [(b.line, b.text, b.reason) for b in bad]
    for line in bad:
        click.echo(f"audit: warning: {source}:{line.line}: {line.reason}", err=True)
    if resume is not None:
        done = done_targets(resume)
        todo = [n for n in names if n not in done]
        summary.skipped = len(names) - len(todo)
        names = todo
    sink = _open_sink(fmt, output, resume)
    relax_gc()  # this process audits the list, or reads what its workers send
    if sink is not None:
        sink.stream.flush()  # a forked worker must not write this process's buffer again
    run = runner or _process_runner(jobs, concurrency, names, dns, audit_options) or audit_batch
    progress = Progress(len(names))
    history = StreamedRun(fail_on)

    def on_done(report: Report) -> None:
        code = summary.add(report)
        # serialised once for the output and the history (a worker's report comes rendered)
        line = jsonl_line(report) if fmt == "jsonl" or history.run is not None else None
        if sink is not None:
            sink.write(report, line)
        history.add(report, line.rstrip("\n") if line is not None else None)
        progress.advance(code)

    from audit.dask_run import DaskUnavailable

    try:
        summary.interrupted = run_loop(
            _until_interrupted(
                lambda: run(names, backend, on_done, concurrency=concurrency, **audit_options)
            )
        )
    except DaskUnavailable as exc:
        raise BadInput(str(exc)) from None
    finally:
        progress.stop()
        if sink is not None:
            sink.close()
    if sink is None:
        color, width = text_style(fmt, output)
        _emit(render_batch(fmt, summary, color=color, width=width), output)
    code = EXIT_INTERRUPTED if summary.interrupted else 2 if bad else _gate(summary.verdicts)
    history.finish(code)
    if summary.interrupted:
        click.echo(
            f"audit: interrupted after {summary.audited} of {len(names)} domains"
            + (" (rerun with --resume on the JSONL output to go on)" if fmt == "jsonl" else ""),
            err=True,
        )
    sys.exit(code)


def run_message_jobs(
    messages: list,
    jobs: int,
    dns: tuple[tuple[str, ...], Path | None, float],
    fmt: str,
    output: Path | None,
    fail_on: str,
    **options: Any,
) -> None:
    """`audit message --jobs N`: JSONL streams in input order as chunks end; other formats
    render the reports in input order at the end."""
    from audit.cli_common import _render_and_exit
    from audit.history import IndexRows
    from audit.message_jobs import audit_messages_parallel

    dns_servers, zone_dir, timeout = dns
    common: dict[str, Any] = dict(
        jobs=jobs, dns_servers=dns_servers, zone_dir=zone_dir, timeout=timeout
    )
    if fmt != "jsonl":
        reports = audit_messages_parallel(messages, **common, **options)
        _render_and_exit(reports, fmt, output, fail_on)
    sink = _open_sink(fmt, output, None)
    assert sink is not None  # jsonl is always streamed
    codes: set[int] = set()
    history = StreamedRun(fail_on)

    def on_line(code: int, line: str, rows: IndexRows) -> None:
        sink.write_line(line)
        codes.add(code)
        history.add_indexed(line, rows)

    try:
        audit_messages_parallel(
            messages, **common, on_line=on_line, fail_on=Severity.parse(fail_on), **options
        )
    finally:
        sink.close()
    exit_code = next((code for code in GATE_ORDER if code in codes), 0)
    history.finish(exit_code)
    sys.exit(exit_code)


def _gate(verdicts) -> int:
    """The run's exit code from its verdict counts, as combined_exit_code orders them: a
    failure wins, then a crashed check, then an inconclusive one."""
    from reports.verdict import VERDICTS

    return next((code for code in GATE_ORDER if verdicts[VERDICTS[code]]), 0)


def _process_runner(
    jobs: int | None,
    concurrency: int,
    names: list[str],
    dns: tuple[tuple[str, ...], Path | None, float] | None,
    options: dict[str, Any],
) -> Callable[..., Any] | None:
    """The batch runner for --jobs N > 1 (or the default for a large list at a high
    concurrency): worker processes (audit/batch_procs.py), started here, before the event
    loop and the progress bar's thread, so they can be forked; the runner reads what they
    send. None: this process audits the list."""
    from audit.batch_procs import default_jobs, drain_workers, start_workers

    processes = jobs or default_jobs(concurrency, len(names))
    if processes <= 1 or dns is None:
        return None
    dns_servers, zone_dir, timeout = dns
    spec = (tuple(dns_servers), str(zone_dir) if zone_dir else None, timeout)
    workers = start_workers(
        names, spec, jobs=processes, concurrency=concurrency, fork=True, **options
    )

    def run(names, backend, on_done, *, concurrency, **options):  # the workers have them
        return drain_workers(workers, on_done)

    return run


def dask_runner(
    scheduler: str | None, dns: tuple[tuple[str, ...], Path | None, float]
) -> Callable[..., Any] | None:
    """The batch runner for --scheduler: chunks on a Dask cluster (None: this machine)."""
    if scheduler is None:
        return None
    from audit.dask_run import audit_on_cluster

    dns_servers, zone_dir, timeout = dns
    spec = (tuple(dns_servers), str(zone_dir) if zone_dir else None, timeout)

    def run(names, backend, on_done, *, concurrency, **options):
        return audit_on_cluster(scheduler, names, spec, on_done, concurrency=concurrency, **options)

    return run
