"""The `audit` command line. Exit codes: 0 clean, 1 findings at or above --fail-on,
2 bad input or usage (one line on stderr), 3 inconclusive (a temperror kept a verdict away),
4 internal error (a check crashed or the tool hit a bug: report it)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from audit import __version__, cli_gate, cli_history, cli_receive
from audit.cli_common import (
    EXIT_BAD_INPUT,
    BadInput,
    _backend,
    _render_and_exit,
    configure_logging,
    dns_options,
    history_options,
    max_size_option,
    report_options,
)
from audit.cli_esp import esp as _esp_group
from audit.cli_esp import esp_profiles_option
from audit.cli_fix import fix as _fix_command
from audit.cli_paths import path_options
from audit.cli_reports import dmarc_reports, tls_reports
from audit.cli_seed import seed as _seed_group
from audit.model import EXIT_INTERNAL_ERROR


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="audit")
@click.option(
    "-v", "--verbose", count=True, help="More log lines on stderr (-v info, -vv debug)."
)
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr: no progress lines.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Email deliverability audit: what receivers will conclude about your mail."""
    configure_logging(verbose, quiet)
    ctx.ensure_object(dict)["quiet"] = quiet


def batch_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--from-file, --concurrency, --resume: many domains in one run (audit/cli_batch.py)."""
    from audit.batch import DEFAULT_CONCURRENCY
    from audit.net.dns_limits import DEFAULT_MAX_IN_FLIGHT, DEFAULT_RATE
    from audit.net.run_memo import DEFAULT_MAX_PROBES

    fn = click.option("--scheduler", metavar="ADDRESS", default=None,
                      help="Audit the list on a Dask distributed cluster (e.g. tcp://host:8786; "
                      "needs pip install 'audit[distributed]').")(fn)  # fmt: skip
    fn = click.option("--jobs", type=click.IntRange(1, 64), default=None,
                      help="Worker processes for a --from-file list, each auditing every N-th "
                      "domain with its own DNS cache (the limits are split among them). Default: "
                      "2 at --concurrency 200 or more with two cores, else 1.")(fn)  # fmt: skip
    fn = click.option("--max-probes", type=click.IntRange(1, 1000), default=DEFAULT_MAX_PROBES,
                      show_default=True, help="SMTP probes at the same time in a run; each MX "
                      "address is probed once per run and shared by its domains.")(fn)  # fmt: skip
    fn = click.option("--dns-rate", type=click.FloatRange(min=0), default=DEFAULT_RATE,
                      show_default=True, metavar="QPS", help="At most QPS DNS queries a second "
                      "to each DNS server (0: no limit).")(fn)  # fmt: skip
    fn = click.option("--max-dns-in-flight", type=click.IntRange(1, 100000),
                      default=DEFAULT_MAX_IN_FLIGHT, show_default=True, help="DNS queries "
                      "waiting for an answer at the same time.")(fn)  # fmt: skip
    fn = click.option("--resume", type=click.Path(dir_okay=False, path_type=Path), default=None,
                      help="Skip domains already in this JSONL output and append the rest to it "
                      "(implies --format jsonl -o FILE unless given).")(fn)  # fmt: skip
    fn = click.option("--concurrency", type=click.IntRange(1, 10000), default=DEFAULT_CONCURRENCY,
                      show_default=True, help="Domains audited at the same time (the default "
                      "suits a laptop; raise it with a fast resolver).")(fn)  # fmt: skip
    fn = click.option("--from-file", "from_file", metavar="FILE|-", default=None,
                      help="Read domains from FILE (- for stdin), one a line; # comments and blank "
                      "lines ignored, repeats audited once; a bad line is reported with its number "
                      "and makes the exit code 2 after the run. Reports stream as each domain "
                      "ends; terminal/HTML/Markdown show a summary.")(fn)  # fmt: skip
    return fn


@cli.command(short_help="Audit sending domains: SPF, DKIM, DMARC, MX, TLS, MTA-STS, BIMI...")
@click.argument("domains", nargs=-1, required=False)
@batch_options
@dns_options
@click.option(
    "--dkim-selector",
    "dkim_selectors",
    multiple=True,
    metavar="SELECTOR",
    help="A DKIM selector you sign with (repeatable); tried beside the common ones.",
)
@click.option("--no-dkim-discovery", is_flag=True, help="Try only the selectors given.")
@click.option("--dkim-discovery", "dkim_discovery", type=click.Choice(["full", "quick"]),
              default=None, help="full: ask every common selector name; quick: the most used "
              "and those found at earlier domains of the run first, the rest only when they "
              "hold no key (a second key can go unseen). Default: quick with --from-file, "
              "else full.")  # fmt: skip
@click.option("--return-path-discovery", "return_path_discovery",
              type=click.Choice(["full", "quick"]), default=None, help="full: ask MX at every "
              "return-path-like name (bounce, mg, pm-bounces...) under each domain; quick: only "
              "when its SPF, DKIM or MX records show a provider with a custom return path, when "
              "one of them could not be read, or when an --esp path through such a provider "
              "gives no --return-path (a provider seen only through its return path goes "
              "unseen). Default: quick with --from-file, else full.")  # fmt: skip
@click.option(
    "--no-probes", is_flag=True, help="No network probes beyond DNS (always so with --zone-dir)."
)
@click.option("--https-port", type=click.IntRange(1, 65535), default=443, show_default=True,
              hidden=True, help="Port for HTTPS fetches (MTA-STS policy), for tests.")  # fmt: skip
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    hidden=True,
    help="Trust this CA bundle (PEM) instead of the system store, for tests.",
)
@click.option("--smtp-port", type=click.IntRange(1, 65535), default=25, show_default=True,
              hidden=True, help="Port for the STARTTLS probes of MX hosts, for tests.")  # fmt: skip
@click.option(
    "--trust-anchor",
    "trust_anchor_file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="DNSSEC trust anchors (DS or DNSKEY records, master-file format) instead of the root's.",
)
@click.option(
    "--allow-private-addresses",
    is_flag=True,
    help="Let the probes connect to loopback, private, link-local and other non-public "
    "addresses that DNS names (refused by default: DNS data is not trusted). For labs and tests.",
)
@click.option(
    "--blocklist",
    "blocklists",
    multiple=True,
    metavar="ZONE",
    help="DNSBL zone to check MX addresses against (repeatable; replaces the default list). "
    "Prefix rhsbl: for a domain list, e.g. rhsbl:dbl.example.",
)
@path_options
@esp_profiles_option
@report_options
@history_options
def domain(
    domains: tuple[str, ...],
    from_file: str | None,
    concurrency: int,
    resume: Path | None,
    max_dns_in_flight: int,
    dns_rate: float,
    max_probes: int,
    jobs: int | None,
    scheduler: str | None,
    dns_servers: tuple[str, ...],
    zone_dir: Path | None,
    timeout: float,
    dkim_selectors: tuple[str, ...],
    no_dkim_discovery: bool,
    dkim_discovery: str | None,
    return_path_discovery: str | None,
    blocklists: tuple[str, ...],
    no_probes: bool,
    https_port: int,
    ca_file: str | None,
    smtp_port: int,
    trust_anchor_file: str | None,
    esp_profiles_dir: Path | None,
    allow_private_addresses: bool,
    fmt: str,
    output: Path | None,
    fail_on: str,
    **path_flags: Any,
) -> None:
    """Audit sending DOMAINS: SPF, DKIM, DMARC, MX, reverse DNS, STARTTLS and certificates,
    MTA-STS, TLS-RPT, DNSSEC, DANE, BIMI, blocklists, and the sending paths.

    Sending paths: each --esp NAME declares a path through that provider (with --return-path
    and --dkim-selector); --sending-ip/--helo/--smtp-relay (and --return-path without --esp)
    declare your own MTA or relay. Providers detected in DNS are paths too."""
    from audit.cli_domain_opts import domain_inputs, run_batch
    from audit.domain_audit import audit_domains

    names, selectors, paths = domain_inputs(
        domains, from_file, dkim_selectors, path_flags, esp_profiles_dir, ca_file, trust_anchor_file
    )
    backend = _backend(dns_servers, zone_dir, timeout)
    options = dict(
        dkim_selectors=selectors,
        discover_dkim=not no_dkim_discovery,
        dkim_discovery=dkim_discovery or ("quick" if from_file else "full"),
        return_path_discovery=return_path_discovery or ("quick" if from_file else "full"),
        blocklists=[_blocklist(z) for z in blocklists] or None,
        probes=not no_probes and zone_dir is None,
        https_port=https_port,
        ca_file=ca_file,
        timeout=timeout,
        smtp_port=smtp_port,
        trust_anchor_file=trust_anchor_file,
        sending_paths=paths,
        esp_profiles_dir=str(esp_profiles_dir) if esp_profiles_dir else None,
        allow_private_addresses=allow_private_addresses,
    )
    limits = dict(max_in_flight=max_dns_in_flight, dns_rate=dns_rate, max_probes=max_probes)
    if any((from_file, resume, scheduler)) or fmt == "jsonl":
        run_batch(names, from_file, resume, backend, {**options, **limits},
                  concurrency=concurrency, fmt=fmt, output=output, fail_on=fail_on,
                  scheduler=scheduler, dns=(dns_servers, zone_dir, timeout), jobs=jobs)  # fmt: skip
    from audit.cli_progress import LiveChecks

    with LiveChecks(len(names)) as live:
        reports = asyncio.run(
            audit_domains(names, backend, on_done=live.target_done, observer=live, **options)
        )
    if fmt == "html":  # the "Fix it" section: the records that clear the findings
        from audit.cli_fix import attach_fix_plans

        attach_fix_plans(reports, backend)
    _render_and_exit(reports, fmt, output, fail_on)


def _blocklist(text: str) -> str:
    from audit.domains import normalize_domain

    kind, colon, zone = text.strip().rpartition(":")
    if colon and kind not in ("rhsbl", "dnsbl"):
        raise BadInput(f"--blocklist {text!r}: the prefix must be rhsbl: or dnsbl:")
    try:
        name = normalize_domain(zone)
    except ValueError as exc:
        raise BadInput(f"--blocklist: {exc}") from None
    return f"{kind}:{name}" if colon else name


def _selector(text: str) -> str:
    from audit.domains import normalize_selector

    return normalize_selector(text)


def _parse_now(text: str | None):
    """--now as ISO 8601 (`2026-01-02T03:04:05Z`) or a Unix timestamp."""
    from datetime import UTC, datetime

    if text is None:
        return None
    try:
        if text.strip().isdigit():
            return datetime.fromtimestamp(int(text), UTC)
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise BadInput(f"--now {text!r} is not an ISO 8601 time or a Unix timestamp") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _envelope_sender(text: str, what: str) -> str:
    """MAIL FROM as a receiver would see it: "" or <> for the null sender, else passed through.

    A malformed address (no local part, empty labels, a domain literal) is still a value an SMTP
    client can send, and RFC 7208 gives it a result (4.3: "none" for a domain that is not a
    valid FQDN): check_host() judges it, not the command line (issue 10).
    """
    value = _protocol_value(text, what)
    if value in ("", "<>"):
        return ""
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    return value


def _helo_name(text: str) -> str:
    """A HELO/EHLO name as the client sent it: bare names (OEMCOMPUTER), literals and junk are
    evaluated by check_host() (RFC 7208 2.3, 4.3), never refused."""
    return _protocol_value(text, "--helo")


def _protocol_value(text: str, what: str) -> str:
    from audit.cli_inputs import protocol_value

    try:
        return protocol_value(text, what)
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def _parse_ip(text: str | None) -> str | None:
    import ipaddress

    if text is None:
        return None
    try:
        return str(ipaddress.ip_address(text.strip().strip("[]")))
    except ValueError:
        raise BadInput(f"{text!r} is not an IPv4 or IPv6 address") from None


@cli.command(short_help="Audit sent messages (.eml, .mbox) as a receiver would.")
@click.argument("files", nargs=-1, required=True)
@dns_options
@click.option("--ip", "ip", metavar="ADDRESS", help="The connecting IP (default: from Received).")
@click.option("--helo", metavar="NAME", help="The HELO/EHLO name (default: from Received).")
@click.option(
    "--mail-from",
    metavar="ADDRESS",
    help="The envelope sender (default: Return-Path); '' or '<>' for the null sender.",
)
@click.option(
    "--trusted-hops",
    type=click.IntRange(min=0),
    default=None,
    help="How many topmost Received headers the receiver itself added after its edge.",
)
@click.option("--receiver-domain", metavar="DOMAIN", help="The receiving domain's boundary.")
@click.option("--now", "now_text", metavar="TIME", help="Evaluate as of TIME (ISO 8601 or Unix).")
@max_size_option("Largest message accepted, in MiB.")
@click.option("--jobs", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Worker processes (DKIM verification is CPU bound: one per core); reports "
              "keep the input order (--format jsonl: each once those before it are "
              "written).")  # fmt: skip
@report_options
@history_options
def message(
    files: tuple[str, ...],
    jobs: int,
    dns_servers: tuple[str, ...],
    zone_dir: Path | None,
    timeout: float,
    ip: str | None,
    helo: str | None,
    mail_from: str | None,
    trusted_hops: int | None,
    receiver_domain: str | None,
    now_text: str | None,
    max_size: int,
    fmt: str,
    output: Path | None,
    fail_on: str,
) -> None:
    """Audit sent messages (FILES: .eml, .mbox, or - for stdin) as a receiver would."""
    from audit.domains import normalize_domain
    from audit.message.load import MessageInputError, load_messages
    from audit.message_audit import EnvelopeOptions, audit_messages
    from audit.runner import relax_gc

    now = _parse_now(now_text)
    if mail_from is not None:
        mail_from = _envelope_sender(mail_from, "--mail-from")
    if helo is not None:
        helo = _helo_name(helo)
    try:
        domain = normalize_domain(receiver_domain) if receiver_domain else None
    except ValueError as exc:
        raise BadInput(f"--receiver-domain: {exc}") from None
    envelope = EnvelopeOptions(_parse_ip(ip), helo, mail_from, trusted_hops, domain)
    from audit.message.maildir import expand_maildirs

    try:
        messages = load_messages(expand_maildirs(list(files)), max_size * 1024 * 1024)
    except MessageInputError as exc:
        raise BadInput(str(exc)) from None
    backend = _backend(dns_servers, zone_dir, timeout)
    if jobs > 1:
        from audit.cli_batch import run_message_jobs

        dns = (dns_servers, zone_dir, timeout)
        limit = max(timeout * 10, 10.0)
        run_message_jobs(messages, jobs, dns, fmt, output, fail_on, envelope=envelope, now=now,
                         check_timeout=limit)  # fmt: skip
    from audit.cli_progress import LiveChecks
    from audit.event_loop import run as run_loop

    relax_gc()
    with LiveChecks(len(messages)) as live:
        reports = run_loop(
            audit_messages(
                messages, backend, envelope=envelope, now=now,
                check_timeout=max(timeout * 10, 10.0), observer=live, on_done=live.target_done,
            )
        )  # fmt: skip
    _render_and_exit(reports, fmt, output, fail_on)


@cli.command(short_help="Evaluate SPF for an IP and envelope sender, with the trace.")
@click.argument("ip")
@click.argument("mail_from")
@click.option("--helo", default="", metavar="NAME", help="The HELO/EHLO name.")
@dns_options
def spf(
    ip: str,
    mail_from: str,
    helo: str,
    dns_servers: tuple[str, ...],
    zone_dir: Path | None,
    timeout: float,
) -> None:
    """Evaluate SPF for IP sending as MAIL_FROM (like spfquery), with the full trace."""
    from audit.net.dns import Resolver
    from audit.spf import render_trace, spf_query

    _parse_ip(ip)  # an IP that is not an IP is the one bad input here
    address = ip.strip().strip("[]")  # as typed: %{i} of CAFE:BABE::1 keeps its case (suite)
    sender = _envelope_sender(mail_from, "MAIL_FROM")
    helo = _helo_name(helo) if helo else helo
    resolver = Resolver(_backend(dns_servers, zone_dir, timeout))
    result = asyncio.run(spf_query(resolver, address, sender, helo))
    click.echo(render_trace(result))


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("terminal", "json")),
    default="terminal",
    show_default=True,
    help='A line per rule, or JSON {"schema_version", "rules": [{id, name, family, severity, '
    "summary, doc}]}.",
)
def rules(fmt: str) -> None:
    """List every rule id with its severity and summary."""
    from audit.json_document import dumps, json_document
    from audit.rules import all_rules, rule_doc

    if fmt == "json":
        rows = (
            {
                "id": r.id,
                "name": r.name,
                "family": r.family,
                "severity": r.severity.value,
                "summary": r.summary,
                "temperror": r.temperror,
                "retired": r.retired,
                "doc": rule_doc(r.id),
            }
            for r in all_rules().values()
        )
        click.echo(dumps(json_document("rules", rows)), nl=False)
        return
    for rule in all_rules().values():
        retired = " (retired)" if rule.retired else ""
        click.echo(
            f"{rule.id:<10} {rule.severity.value:<8} {rule.name:<40} {rule.summary}{retired}"
        )


@cli.command(short_help="Print the documentation of a rule id.")
@click.argument("rule_id")
def rule(rule_id: str) -> None:
    """Print the documentation of RULE_ID (e.g. SPF201)."""
    from audit.rules import get_rule, rule_doc

    found = get_rule(rule_id)
    if found is None:
        raise BadInput(f"unknown rule id {rule_id!r} (see 'audit rules')")
    click.echo(rule_doc(found.id) or f"# {found.id} {found.name}\n\n{found.summary}")


cli.add_command(_seed_group, "seed")
cli.add_command(cli_gate.check, "check")
cli.add_command(cli_gate.baseline, "baseline")
cli.add_command(_esp_group, "esp")
cli.add_command(cli_gate.init, "init")
cli.add_command(cli_history.history, "history")
cli.add_command(cli_history.diff, "diff")
cli.add_command(_fix_command, "fix")
cli.add_command(cli_receive.receive, "receive")
cli.add_command(dmarc_reports)
cli.add_command(tls_reports)


def main() -> None:
    """Entry point: click errors become one line and exit 2; never a traceback for bad input."""
    try:
        cli.main(prog_name="audit", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"audit: error: {exc.format_message()}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except click.exceptions.Abort:
        click.echo("audit: interrupted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("audit: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - a bug: one line and exit 4, the trace with -vv
        import logging

        logging.getLogger("audit").debug("internal error", exc_info=True)
        click.echo(
            f"audit: internal error: {type(exc).__name__}: {exc} (a bug in audit: please "
            "report it; -vv shows the traceback)",
            err=True,
        )
        sys.exit(EXIT_INTERNAL_ERROR)
    sys.exit(0)


if __name__ == "__main__":
    main()
