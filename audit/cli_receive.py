"""`audit receive`: a self-hosted test inbox (serve), its test addresses (new), and its results
(wait, list, show, purge). The inbox's state is one SQLite file shared by all of them.

Exit codes of `wait` and `show` are those of `audit message` (0 clean, 1 a finding at or above
--fail-on, 3 inconclusive, 4 the audit crashed); `wait` also exits 3 when nothing was audited
before --timeout (a one-line message says so); 2 is bad input, such as an unknown token.
"""

from __future__ import annotations

import ipaddress
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from audit.cli_common import (
    SEVERITY_CHOICES,
    BadInput,
    _backend,
    _positive_float,
    _render_and_exit,
    dns_options,
    max_size_option,
    progress_wanted,
    report_options,
)
from audit.model import Report, Severity

EXIT_INCONCLUSIVE = 3
_STATE_HELP = "The inbox state file (SQLite; default $XDG_STATE_HOME/audit/receive.sqlite3)."
_DURATION = re.compile(r"(\d+)\s*([smhd])\Z")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _state_option(fn):
    return click.option(
        "--state", type=click.Path(dir_okay=False, path_type=Path), default=None, help=_STATE_HELP
    )(fn)


def _count(name: str, default: int, most: int, help_text: str):
    """A bounded positive integer option (a limit or a pool size)."""
    return click.option(
        name, type=click.IntRange(1, most), default=default, show_default=True, help=help_text
    )


def _seconds(name: str, default: float, help_text: str):
    return click.option(
        name,
        type=float,
        default=default,
        show_default=True,
        callback=_positive_float,
        metavar="SECONDS",
        help=help_text,
    )


def _pem_file(name: str, help_text: str):
    return click.option(name, type=click.Path(exists=True, dir_okay=False), help=help_text)


def _state_path(state: Path | None) -> Path:
    from audit.receive.store import default_inbox_path

    return state or default_inbox_path()


def _open(state: Path | None, *, create: bool = True):
    from audit.receive.store import InboxStore

    path = _state_path(state)
    if not create and not path.is_file():
        raise BadInput(f"no inbox state at {str(path)!r} (start `audit receive serve` first)")
    try:
        return InboxStore(path)
    except Exception as exc:  # noqa: BLE001 - any reason the file cannot be opened is input
        raise BadInput(f"cannot open the inbox state {str(path)!r}: {exc}") from None


def _host_port(text: str, option: str) -> tuple[str, int]:
    """HOST:PORT, [IPv6]:PORT to listen on: an IP address (or localhost), port 0 = any free."""
    from audit.domains import parse_host_port

    name, _, rest = text.strip().rpartition(":")
    local = name.lower() == "localhost"  # one label: not a domain parse_host_port takes
    try:
        host, port = parse_host_port(f"127.0.0.1:{rest}" if local else text, lowest_port=0)
    except ValueError as exc:
        raise BadInput(f"{option} {text!r} is not HOST:PORT: {exc}") from None
    if local:
        host = "localhost"
    else:
        try:
            host = str(ipaddress.ip_address(host))
        except ValueError:
            raise BadInput(f"{option} {text!r}: HOST must be an IP address") from None
    return host, port


def _domain(text: str, option: str) -> str:
    from audit.domains import normalize_domain

    try:
        return normalize_domain(text)
    except ValueError as exc:
        raise BadInput(f"{option}: {exc}") from None


def _token(store, text: str) -> str:
    from audit.receive.tokens import token_of

    try:
        token = token_of(text)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    if store.test(token) is None:
        raise BadInput(f"unknown test {text!r} in {store.path} (see `audit receive list`)")
    return token


@click.group()
def receive() -> None:
    """A test inbox: send mail to an address it issues, read the audit of what arrived."""


def _render_html(reports: list[Report], fail_on: Severity) -> str:
    """The web view's test page: the same HTML report as `audit message --format html`."""
    from reports import render

    return render("html", reports, fail_on=fail_on)


@receive.command("serve")
@click.option(
    "--listen",
    default="127.0.0.1:2525",
    show_default=True,
    metavar="HOST:PORT",
    help="Where the SMTP listener accepts connections.",
)
@click.option(
    "--domain",
    required=True,
    metavar="DOMAIN",
    help="The domain of the test addresses (its MX should point here).",
)
@click.option(
    "--web",
    default="127.0.0.1:8025",
    show_default=True,
    metavar="HOST:PORT",
    help="Where the read-only web view listens (loopback: it lists every test).",
)
@click.option("--no-web", is_flag=True, help="No web view.")
@_pem_file(
    "--tls-cert", "Certificate chain (PEM) for STARTTLS; without it STARTTLS is not offered."
)
@_pem_file("--tls-key", "The certificate's private key (PEM).")
@click.option(
    "--accept-any",
    is_flag=True,
    help="Accept any local part at --domain (a new test each), not only issued ones.",
)
@_state_option
@max_size_option("Largest message accepted, in MiB (SIZE; 552 above).")
@_count("--max-sessions", 50, 10000, "Concurrent SMTP sessions; more get 421.")
@_count("--max-recipients", 100, 1000, "RCPTs per message; more get 452.")
@_seconds(
    "--session-timeout",
    300.0,
    "Close an SMTP session idle this long (RFC 5321 4.5.3.2: 5 minutes).",
)
@_count("--workers", 4, 64, "Messages audited at the same time.")
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITY_CHOICES),
    default="high",
    show_default=True,
    help="The PASS/FAIL threshold shown by the web view.",
)
@dns_options
def serve_command(
    listen: str,
    domain: str,
    web: str,
    no_web: bool,
    tls_cert: str | None,
    tls_key: str | None,
    accept_any: bool,
    state: Path | None,
    max_size: int,
    max_sessions: int,
    max_recipients: int,
    session_timeout: float,
    workers: int,
    fail_on: str,
    dns_servers: tuple[str, ...],
    zone_dir: Path | None,
    timeout: float,
) -> None:
    """Run the test inbox: SMTP listener, audit on arrival, web view (until Ctrl-C/SIGTERM)."""
    from audit.receive.serve import ServeOptions, serve
    from audit.receive.smtp import ListenerOptions, tls_context

    if bool(tls_cert) != bool(tls_key):
        raise BadInput("give both --tls-cert and --tls-key (or neither)")
    context = None
    if tls_cert and tls_key:
        try:
            context = tls_context(tls_cert, tls_key)
        except (OSError, ValueError) as exc:
            raise BadInput(f"cannot use --tls-cert/--tls-key: {exc}") from None
    _backend(dns_servers, zone_dir, timeout)  # bad DNS options fail now, not in the worker
    options = ServeOptions(
        listen=_host_port(listen, "--listen"),
        web=None if no_web else _host_port(web, "--web"),
        state=_state_path(state),
        listener=ListenerOptions(
            domain=_domain(domain, "--domain"),
            max_size=max_size * 1024 * 1024,
            accept_any=accept_any,
            tls_context=context,
            max_recipients=max_recipients,
            max_sessions=max_sessions,
            session_timeout=session_timeout,
        ),
        backend_factory=lambda: _backend(dns_servers, zone_dir, timeout),
        render_html=_render_html,
        workers=workers,
        check_timeout=max(timeout * 10, 10.0),
        fail_on=Severity.parse(fail_on),
    )
    _open(state).close()  # an unusable state file is bad input
    try:
        serve(options)
    except OSError as exc:
        raise BadInput(f"cannot listen: {exc.strerror or exc}") from None


@receive.command("new")
@_state_option
@click.option(
    "--domain",
    default=None,
    metavar="DOMAIN",
    help="The test address's domain (default: the one `serve` was started with).",
)
def new_command(state: Path | None, domain: str | None) -> None:
    """Issue a fresh test address with an unguessable token and print it."""
    from audit.receive.tokens import address_for, new_token

    with _open(state) as store:
        name = _domain(domain, "--domain") if domain else store.setting("domain")
        if not name:
            raise BadInput("give --domain (no `audit receive serve` has used this state yet)")
        test = store.add_test(new_token(), name)
    click.echo(address_for(test.token, test.domain))


def _done_reports(store, token: str):
    from audit.receive.web import test_status

    info = test_status(store, token, Severity.HIGH)
    return info, (info["_reports"] if info and info["status"] == "done" else [])


@receive.command("wait")
@click.argument("token")
@_state_option
@_seconds("--timeout", 300.0, "How long to wait for the message and its audit (then exit 3).")
@report_options
def wait_command(
    token: str, state: Path | None, timeout: float, fmt: str, output: Path | None, fail_on: str
) -> None:
    """Wait until mail to TOKEN (or its address) has arrived and been audited; print the report
    with the exit code of `audit message`."""
    with _open(state, create=False) as store:
        key = _token(store, token)
        deadline = time.monotonic() + timeout
        if progress_wanted():
            click.echo(f"waiting up to {timeout:g}s for mail to {token} ...", err=True)
        while True:
            info, reports = _done_reports(store, key)
            if reports:
                break
            if time.monotonic() >= deadline:
                what = "arrived" if not info or not info["messages"] else "been audited"
                click.echo(
                    f"audit: no message to {key} has {what} within {timeout:g}s (inconclusive)",
                    err=True,
                )
                sys.exit(EXIT_INCONCLUSIVE)
            time.sleep(min(0.25, max(deadline - time.monotonic(), 0.01)))
    _render_and_exit(reports, fmt, output, fail_on)


@receive.command("show")
@click.argument("token")
@_state_option
@report_options
@click.option(
    "--raw",
    is_flag=True,
    help="Print the latest message as delivered (.eml, with the inbox's Return-Path, Received "
    "and Authentication-Results), e.g. for `audit message`, instead of the report.",
)
def show_command(
    token: str, state: Path | None, raw: bool, fmt: str, output: Path | None, fail_on: str
):
    """Print the report of every message received for TOKEN."""
    with _open(state, create=False) as store:
        key = _token(store, token)
        if raw:
            _show_raw(store, key, output)
        info, reports = _done_reports(store, key)
    if not reports:
        click.echo(
            f"audit: {key}: {info['status'] if info else 'waiting'}, no report yet", err=True
        )
        sys.exit(EXIT_INCONCLUSIVE)
    _render_and_exit(reports, fmt, output, fail_on)


def _show_raw(store, token: str, output: Path | None) -> None:
    from audit.receive.copy import stored_copy

    test = store.test(token)
    every = (stored_copy(store, m, test.domain) for m in store.messages(token))
    copies = [c for c in every if c is not None]
    if not copies:
        click.echo(f"audit: {token}: no message stored", err=True)
        sys.exit(EXIT_INCONCLUSIVE)
    data = copies[-1][0]
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        try:
            output.write_bytes(data)
        except OSError as exc:
            raise BadInput(f"cannot write {str(output)!r}: {exc.strerror}") from None
    sys.exit(0)


@receive.command("list")
@_state_option
def list_command(state: Path | None) -> None:
    """List the tests: address, when issued, status and number of messages."""
    from audit.receive.web import test_status

    with _open(state, create=False) as store:
        tests = store.tests()
        if not tests:
            click.echo("no tests yet (audit receive new)", err=True)
        for test in tests:
            info = test_status(store, test.token, Severity.HIGH) or {}
            click.echo(
                f"{test.address}  {test.created}  {info.get('status')}  "
                f"{len(info.get('messages') or [])} messages"
            )


def _older_than(text: str | None) -> str | None:
    if text is None:
        return None
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise BadInput(f"--older-than {text!r} is not a duration such as 30m, 12h or 7d")
    delta = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    return (datetime.now(UTC) - delta).isoformat(timespec="seconds")


@receive.command("purge")
@_state_option
@click.option(
    "--older-than",
    metavar="DURATION",
    default=None,
    help="Only tests issued longer ago than this (30m, 12h, 7d); default: all.",
)
def purge_command(state: Path | None, older_than: str | None) -> None:
    """Delete stored tests and their messages and reports."""
    cutoff = _older_than(older_than)
    with _open(state, create=False) as store:
        count = store.purge(cutoff)
    click.echo(f"purged {count} tests")
