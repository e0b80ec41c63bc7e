"""`audit seed init | run | report`: the seed-list test from the command line.

Secrets come only from the environment (the seed list names the variables; AUDIT_SMTP_PASSWORD
and the API key variables for sending) and never reach a report, a log or an error message.
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
from pathlib import Path

import click

from audit.cli_common import (
    BadInput,
    _backend,
    _render_and_exit,
    check_ca_file,
    dns_options,
    report_options,
)


def _store(state: Path | None, *, create: bool = True):
    from audit.seed.state import RunStore, default_state_path

    path = state or default_state_path()
    if not create and not Path(path).is_file():
        return None
    try:
        return RunStore(path)
    except Exception as exc:  # noqa: BLE001 - any reason the file cannot be opened is input
        raise BadInput(f"cannot open the run state {str(path)!r}: {exc}") from None


@click.group(short_help="Send test mail to seed mailboxes and confirm what receivers did.")
def seed() -> None:
    """Send a test message to seed mailboxes, read the copies back, confirm the findings."""


@seed.command("init")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
def seed_init(path: Path | None) -> None:
    """Write a commented example seed list to PATH (or print it)."""
    from audit.seed.config import EXAMPLE_TOML

    if path is None:
        click.echo(EXAMPLE_TOML, nl=False)
        return
    if path.exists():
        raise BadInput(f"{str(path)!r} exists: not overwriting it")
    try:
        path.write_text(EXAMPLE_TOML, encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot write {str(path)!r}: {exc.strerror}") from None
    click.echo(f"wrote {path}: edit the seeds, then run 'audit seed run --seeds {path} ...'")


@seed.command("run")
@click.option(
    "--seeds",
    "seeds_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The seed list (TOML; 'audit seed init' writes an example).",
)
@click.option("--from", "from_addr", required=True, metavar="ADDRESS", help="The From address.")
@click.option(
    "--via",
    default=None,
    metavar="URL",
    help="Sending path: smtp://[user@]host:port (STARTTLS when offered), smtps://host:465, "
    "or an HTTP API (sendgrid://, postmark://, mailgun://DOMAIN). Default with --path/--esp: "
    "the path's smtp relay or the provider's API.",
)
@click.option(
    "--path",
    "path_name",
    default=None,
    metavar="NAME",
    help="Send through this [[path]] of the project config (audit.toml) and check its "
    "prediction (DMARC, SPF, aligned DKIM) against what each receiver wrote.",
)
@click.option(
    "--esp",
    default=None,
    metavar="NAME",
    help="Send through this provider's path (see 'audit esp list') and check its prediction.",
)
@click.option(
    "--message",
    "template",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Send this .eml (To and the token are set per seed) instead of the built-in message.",
)
@click.option("--rate", type=float, default=1.0, show_default=True, help="Messages per second.")
@click.option(
    "--wait",
    type=float,
    default=300.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for the copies after sending.",
)
@click.option("--resume", metavar="RUN_ID", default=None, help="Continue an interrupted run.")
@click.option("--state", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Run state database (SQLite).")  # fmt: skip
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Trust this CA (PEM) for IMAP and SMTP, for tests.",
)
@click.option("--dkim-selector", "dkim_selectors", multiple=True, metavar="SELECTOR",
              help="A DKIM selector the path signs with (repeatable).")  # fmt: skip
@dns_options
@report_options
def seed_run(
    seeds_file: Path,
    from_addr: str,
    via: str | None,
    path_name: str | None,
    esp: str | None,
    template: Path | None,
    rate: float,
    wait: float,
    resume: str | None,
    state: Path | None,
    ca_file: str | None,
    dkim_selectors: tuple[str, ...],
    dns_servers: tuple[str, ...],
    zone_dir: Path | None,
    timeout: float,
    fmt: str,
    output: Path | None,
    fail_on: str,
) -> None:
    """Send one tokened test message per seed and report what each receiver concluded."""
    from audit.message.addresses import domain_of
    from audit.seed.run import SeedPreflightError, SeedRunOptions, run_seed

    if not (math.isfinite(rate) and rate > 0):
        raise BadInput("--rate must be a positive number of messages per second")
    if not (math.isfinite(wait) and wait >= 0):
        raise BadInput("--wait must be zero or more seconds")
    if not domain_of(from_addr):
        raise BadInput(f"--from {from_addr!r} is not an email address")
    check_ca_file(ca_file)
    path = _seed_path(path_name, esp)
    via = _seed_via(via, path, from_addr)
    # The relay and the IMAP servers are real hosts: with --zone-dir (offline predictions) they
    # are looked up through the system resolver, otherwise through --dns-server.
    transport = _backend(dns_servers, None, timeout)
    sender = _sender(via, ca_file, timeout, transport)
    seeds, passwords = _seed_list(seeds_file)
    template_bytes = _template(template, from_addr)
    backend = _backend(dns_servers, zone_dir, timeout)
    store = _store(state)
    if resume:
        _check_resumable(store, resume, from_addr, via, seeds)
    options = SeedRunOptions(
        from_addr=from_addr,
        via=via,
        rate=rate,
        wait=wait,
        template=template_bytes,
        ca_file=ca_file,
        timeout=timeout,
        dkim_selectors=dkim_selectors,
        path=path,
    )

    def progress(text: str) -> None:
        click.echo(f"audit seed: {text}", err=True)

    from audit.seed.state import StateError

    try:
        result = asyncio.run(
            run_seed(
                seeds,
                options,
                store=store,
                backend=backend,
                sender=sender,
                passwords=passwords,
                resume=resume,
                progress=progress,
                transport_backend=transport,
            )
        )
    except (StateError, SeedPreflightError) as exc:
        # a wrong IMAP password found before sending; another process resuming this run
        raise BadInput(str(exc)) from None
    progress(f"run {result.run_id} finished: 'audit seed report {result.run_id}' shows it again")
    _render_and_exit([result.report], fmt, output, fail_on)


def _seed_via(via: str | None, path, from_addr: str) -> str:
    """--via, else the declared path's relay or API; exit 2 when there is neither."""
    from audit.message.addresses import domain_of
    from audit.seed.paths import via_for

    if via is not None:
        return via
    if path is None:
        raise BadInput("give --via URL, or --path NAME / --esp NAME to send through a path")
    try:
        return via_for(path, domain_of(from_addr) or "")
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def _sender(via: str, ca_file: str | None, timeout: float, transport):
    """The sender for --via, finding the relay through the transport resolver."""
    from audit.net.dns import Resolver
    from audit.seed.send.via import make_sender

    try:
        return make_sender(
            via, ca_file=ca_file, timeout=timeout, env=os.environ, resolver=Resolver(transport)
        )
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def _seed_list(seeds_file: Path):
    """The seeds and their IMAP passwords (from the environment); exit 2 on a bad list."""
    from audit.seed.config import SeedConfigError, load_seeds, password_for

    try:
        seeds = load_seeds(seeds_file)
        passwords = {s.address: password_for(s, os.environ) for s in seeds if s.receive is None}
    except SeedConfigError as exc:
        raise BadInput(str(exc)) from None
    return seeds, passwords


def _template(template: Path | None, from_addr: str) -> bytes | None:
    """The --message file; one that cannot carry the token is bad input, before anything is
    sent."""
    if template is None:
        return None
    from audit.seed.message import build_test_message

    template_bytes = template.read_bytes()
    try:
        build_test_message(
            from_addr, "seed@example.invalid", "check-template", template=template_bytes
        )
    except ValueError as exc:
        raise BadInput(f"--message {str(template)!r}: {exc}") from None
    return template_bytes


def _seed_path(path_name: str | None, esp: str | None):
    """--path (a [[path]] of the project config) or --esp, as a SendingPath; exit 2 if unknown."""
    if not path_name and not esp:
        return None
    from audit.config import ConfigError, load_config
    from audit.esp.profiles import ProfileError, load_profiles
    from audit.seed.paths import resolve_path

    try:
        config = load_config() if path_name else None
        return resolve_path(path_name, esp, config, list(load_profiles()))
    except (ConfigError, ProfileError, ValueError) as exc:
        raise BadInput(str(exc)) from None


def _check_resumable(store, run_id: str, from_addr: str, via: str, seeds) -> None:
    """--resume continues the same setup: another From, path or seed list would mix runs."""
    from audit.seed.send import redact_via

    run = store.get_run(run_id)
    if run is None:
        raise BadInput(f"no run {run_id!r} in {store.path}")
    params = run.params or {}
    for name, given, stored in (
        ("--from", from_addr, params.get("from")),
        ("--via", redact_via(via), params.get("via")),
    ):
        if stored is not None and given != stored:
            raise BadInput(f"run {run_id} was started with {name} {stored!r}, not {given!r}")
    stored_seeds = params.get("seeds")
    if stored_seeds is not None and sorted(stored_seeds) != sorted(s.address for s in seeds):
        raise BadInput(f"run {run_id} was started with another seed list")


@seed.command("report")
@click.argument("run_id")
@click.option("--state", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Run state database (SQLite; default in ~/.local/state/audit).")  # fmt: skip
@report_options
def seed_report(
    run_id: str, state: Path | None, fmt: str, output: Path | None, fail_on: str
) -> None:
    """Render the report of a finished run again."""
    from audit.report_load import report_from_dict

    store = _store(state, create=False)
    run = store.get_run(run_id) if store is not None else None
    if run is None:
        where = store.path if store is not None else f"{state or 'the default state file'}"
        raise BadInput(f"no run {run_id!r} in {where}")
    data = run.report_data
    if not data:
        raise BadInput(f"run {run_id} has not finished: resume it with --resume {run_id}")
    _render_and_exit([report_from_dict(data)], fmt, output, fail_on)


@seed.command("list")
@click.option("--state", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Run state database (SQLite; default in ~/.local/state/audit).")  # fmt: skip
def seed_list(state: Path | None) -> None:
    """List the runs in the state database."""
    store = _store(state, create=False)
    if store is None:
        click.echo("no runs yet (no state file)", err=True)
        return
    for run in store.list_runs():
        click.echo(f"{run.id}  {run.created}  {run.status}")
    sys.stdout.flush()
