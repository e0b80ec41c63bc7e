"""`audit check` and `audit baseline write`: the project config (audit.toml) as a CI gate.

Command-line options override the file: a Click option counts as given only when its source is
the command line (ctx.get_parameter_source), so `--timeout 5` overrides `timeout = 2` even
though 5 is also the default.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

import click
from click.core import ParameterSource

from audit.cli_common import (
    EXIT_BAD_INPUT,
    BadInput,
    _backend,
    _emit,
    dns_options,
    history_options,
    progress_wanted,
    record_run,
    report_options,
    text_style,
)
from audit.cli_history import emit_drift, since_drift
from audit.config import STDOUT, ConfigError, ProjectConfig, load_config
from audit.model import Report, Severity, combined_exit_code

DEFAULT_BASELINE = ".audit-baseline.json"


def _given(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE


def config_option(fn):
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="The project config (default: audit.toml here or in a parent, or [tool.audit] "
        "in pyproject.toml).",
    )(fn)


def load_project(config_path: Path | None) -> ProjectConfig:
    """The config, or exit 2 saying what is wrong or that there is none."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise BadInput(str(exc)) from None
    if config is None:
        raise BadInput(
            "no audit.toml here or in a parent directory (and no [tool.audit] in a "
            "pyproject.toml): write one with `audit init DOMAIN`, or give --config FILE"
        )
    if not config.domains and not config.messages:
        raise BadInput(f"{config.source}: declares no `domains` nor `messages`: nothing to check")
    return config


@dataclass(frozen=True)
class Settings:
    """The file's values with the command line's on top."""

    fail_on: str
    timeout: float
    dns_servers: tuple[str, ...]
    outputs: tuple[tuple[str, Path | None], ...]  # (format, file or None for stdout)


def merged(
    ctx: click.Context,
    config: ProjectConfig,
    *,
    fmt: str,
    output: Path | None,
    fail_on: str,
    timeout: float,
    dns_servers: tuple[str, ...],
) -> Settings:
    if _given(ctx, "fmt") or _given(ctx, "output") or not config.formats:
        outputs: tuple[tuple[str, Path | None], ...] = ((fmt, output),)
    else:
        outputs = tuple(
            (name, None if where == STDOUT else config.resolve(where))
            for name, where in config.formats
        )
    return Settings(
        fail_on=fail_on if _given(ctx, "fail_on") or not config.fail_on else config.fail_on,
        timeout=timeout if _given(ctx, "timeout") or config.timeout is None else config.timeout,
        dns_servers=dns_servers if dns_servers else config.dns_servers,
        outputs=outputs,
    )


def _run(config: ProjectConfig, settings: Settings, zone_dir: Path | None, no_probes: bool,
         baseline: set[str] | None = None, baseline_label: str = "",
         allow_private: bool = False) -> list[Report]:  # fmt: skip
    from audit.gate import GateInputError, GateOptions, run_gate
    from audit.message.load import MessageInputError

    # --zone-dir on the command line replaces the file's dns_servers (it overrides, not clashes)
    servers = () if zone_dir is not None else settings.dns_servers
    backend = _backend(servers, zone_dir, settings.timeout)
    options = GateOptions(
        probes=not no_probes and zone_dir is None and config.probes is not False,
        timeout=settings.timeout,
        baseline=baseline,
        baseline_label=baseline_label,
        # the flag, else the file's allow_private_addresses key
        allow_private_addresses=allow_private or bool(config.allow_private_addresses),
    )
    progress = progress_wanted()

    def done(report: Report) -> None:
        if progress:
            click.echo(f"audited {report.target}", err=True)

    try:
        return asyncio.run(run_gate(config, backend, options, on_done=done))
    except (GateInputError, MessageInputError) as exc:
        raise BadInput(str(exc)) from None


def _baseline_path(config: ProjectConfig, given: Path | None) -> Path:
    if given is not None:
        return given
    return config.resolve(config.baseline or DEFAULT_BASELINE)


def gate_options(fn):
    fn = click.option(
        "--allow-private-addresses",
        is_flag=True,
        help="Let probes connect to loopback/private addresses that DNS names (labs, tests); "
        "also the config key allow_private_addresses.",
    )(fn)
    fn = click.option(
        "--no-probes", is_flag=True, help="No network probes beyond DNS (never with --zone-dir)."
    )(fn)
    fn = dns_options(fn)
    return config_option(fn)


@click.command()
@gate_options
@click.option(
    "--baseline",
    "baseline_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Fail only on findings whose fingerprint is not in FILE (see `audit baseline write`); "
    "default: the config's `baseline` key, if set.",
)
@click.option(
    "--since",
    metavar="RUN",
    default=None,
    help="Also show the drift since RUN: `last` (the previous check of this config in the "
    "history) or a run id.",
)
@report_options
@history_options
@click.pass_context
def check(
    ctx: click.Context,
    config_path: Path | None,
    dns_servers: tuple[str, ...],
    zone_dir: Path | None,
    timeout: float,
    no_probes: bool,
    allow_private_addresses: bool,
    baseline_path: Path | None,
    since: str | None,
    fmt: str,
    output: Path | None,
    fail_on: str,
) -> None:
    """Run everything the project config (audit.toml) declares: its domains through the domain
    audit, its messages through the message audit, its ignores and baseline applied. The exit
    code is the gate: 0 pass, 1 a finding at or above fail_on not accepted, 3 inconclusive,
    4 internal error (a check crashed)."""
    from audit.suppress import BaselineError, load_baseline

    config = load_project(config_path)
    settings = merged(ctx, config, fmt=fmt, output=output, fail_on=fail_on, timeout=timeout,
                      dns_servers=dns_servers)  # fmt: skip
    accepted = None
    label = ""
    if baseline_path is not None or config.baseline:
        path = _baseline_path(config, baseline_path)
        try:
            accepted = load_baseline(path)
        except BaselineError as exc:
            raise BadInput(str(exc)) from None
        label = str(baseline_path) if baseline_path is not None else config.baseline or ""
    reports = _run(config, settings, zone_dir, no_probes, accepted, label, allow_private_addresses)
    render_outputs(reports, settings)
    code = combined_exit_code(reports, Severity.parse(settings.fail_on))
    source = str(config.source.resolve()) if config.source else None
    run_id = record_run(reports, code, settings.fail_on, config=source)
    if since:
        explicit = ctx.meta.get("audit.history", (None, False))[0]
        text = since_drift(reports, since, run_id, source, explicit)
        emit_drift(text, any(f == "terminal" and w is None for f, w in settings.outputs))
    sys.exit(code)


def render_outputs(reports: list[Report], settings: Settings) -> None:
    from reports import render

    for fmt, where in settings.outputs:
        color, width = text_style(fmt, where)
        if where is not None:
            where.parent.mkdir(parents=True, exist_ok=True)
        text = render(fmt, reports, color=color, width=width, fail_on=settings.fail_on)
        _emit(text, where)


@click.group()
def baseline() -> None:
    """Accepted findings by fingerprint, for `audit check --baseline FILE`."""


@baseline.command("write")
@gate_options
@click.option(
    "--output",
    "-o",
    "baseline_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"The baseline file (default: the config's `baseline`, else {DEFAULT_BASELINE} beside "
    "the config).",
)
@click.pass_context
def baseline_write(
    ctx: click.Context,
    config_path: Path | None,
    dns_servers: tuple[str, ...],
    zone_dir: Path | None,
    timeout: float,
    no_probes: bool,
    allow_private_addresses: bool,
    baseline_path: Path | None,
) -> None:
    """Run `audit check` and accept every finding it reports: write (or replace) the baseline
    with their fingerprints. Findings gone since the last write are dropped from it."""
    from audit.suppress import write_baseline

    config = load_project(config_path)
    settings = merged(ctx, config, fmt="terminal", output=None, fail_on="high", timeout=timeout,
                      dns_servers=dns_servers)  # fmt: skip
    reports = _run(config, settings, zone_dir, no_probes, allow_private=allow_private_addresses)
    path = _baseline_path(config, baseline_path)
    inconclusive = [r.target for r in reports if r.inconclusive]
    try:
        accepted, new, dropped = write_baseline(path, reports)
    except OSError as exc:
        raise BadInput(f"cannot write {str(path)!r}: {exc.strerror}") from None
    click.echo(f"{path}: {accepted} finding(s) accepted ({new} new, {dropped} dropped)")
    if inconclusive:
        click.echo(
            f"audit: warning: inconclusive for {', '.join(inconclusive)}: findings a complete run "
            "would add are not in the baseline",
            err=True,
        )


@click.command()
@click.argument("domains", nargs=-1, required=True)
@dns_options
@click.option(
    "--no-probes", is_flag=True, help="No network probes beyond DNS (never with --zone-dir)."
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("audit.toml"),
    show_default=True,
    help='Where to write the config ("-" for standard output).',
)
@click.option("--force", is_flag=True, help="Replace an existing file.")
@click.option(
    "--allow-private-addresses",
    is_flag=True,
    help="Let the probes connect to loopback/private addresses that DNS names (labs, tests); "
    "not written to the config (add allow_private_addresses = true there if you want it).",
)
def init(
    domains: tuple[str, ...],
    dns_servers: tuple[str, ...],
    zone_dir: Path | None,
    timeout: float,
    no_probes: bool,
    output: Path,
    force: bool,
    allow_private_addresses: bool,
) -> None:
    """Write a commented audit.toml for DOMAINS, pre-filled from what the audit detects (the
    DKIM selectors found; today's findings as ready-to-uncomment ignores)."""
    from audit.domain_audit import audit_domains
    from audit.domains import normalize_domain
    from audit.init_config import render_config

    try:
        names = list(dict.fromkeys(normalize_domain(d) for d in domains))
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    to_stdout = str(output) == STDOUT
    if not to_stdout and output.exists() and not force:
        raise BadInput(f"{output} exists: give --force to replace it, or --output FILE")
    backend = _backend(dns_servers, zone_dir, timeout)
    reports = asyncio.run(
        audit_domains(
            names,
            backend,
            probes=not no_probes and zone_dir is None,
            timeout=timeout,
            allow_private_addresses=allow_private_addresses,
        )
    )
    text = render_config(reports, dns_servers)
    _emit(text, None if to_stdout else output)
    if not to_stdout:
        selectors = text.count("# DKIM key found at")
        click.echo(
            f"wrote {output}: {len(names)} domain(s), {selectors} DKIM selector(s) found; "
            "next: audit check",
            err=True,
        )


__all__ = ["EXIT_BAD_INPUT", "baseline", "check", "init"]
