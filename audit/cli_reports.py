"""`audit dmarc-reports` and `audit tls-reports`: read the reports receivers send you."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import click

from audit.cli_common import BadInput, _backend, _render_and_exit, dns_options, report_options

_DMARC_HELP = """Analyse DMARC aggregate reports (FILES: .xml, .xml.gz, .zip, or the report
e-mails as .eml; or --imap): who sends as your domain, which legitimate senders fail and why,
what looks like spoofing, and how much legitimate mail p=quarantine / p=reject would hit today."""


def _mailbox_options(fn):
    fn = click.option(
        "--ca-file",
        type=click.Path(exists=True, dir_okay=False),
        default=None,
        help="Trust this CA bundle (PEM) for the IMAP server's certificate.",
    )(fn)
    fn = click.option(
        "--folder",
        default="INBOX",
        show_default=True,
        help="The IMAP folder holding the reports (read-only).",
    )(fn)
    fn = click.option(
        "--imap",
        "imap_url",
        metavar="URL",
        help="Read the reports from a mailbox: imaps://USER@HOST[:PORT] or imap://USER@HOST "
        "(STARTTLS); password from AUDIT_IMAP_PASSWORD.",
    )(fn)
    return fn


def _read(files: tuple[str, ...], imap_url: str | None, folder: str, ca_file: str | None,
          timeout: float):  # fmt: skip
    from audit.dmarc_reports.mailbox import MailboxError, MailboxUrl, read_mailbox
    from audit.dmarc_reports.reading import ReadResult, read_report_files

    if not files and not imap_url:
        raise BadInput("give report FILES or --imap URL")
    paths = [Path(f) for f in files]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise BadInput(f"no such file: {missing[0]!r}")
    result = read_report_files(paths) if paths else ReadResult()
    if imap_url:
        try:
            boxed = read_mailbox(MailboxUrl.parse(imap_url), folder, timeout=timeout,
                                 ca_file=ca_file)  # fmt: skip
        except MailboxError as exc:
            raise BadInput(str(exc)) from None
        result.reports += boxed.reports
        result.refused += boxed.refused
    for source, reason in result.refused:
        click.echo(f"audit: refused {source}: {reason}", err=True)
    return result


def _tolerance(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not (math.isfinite(value) and 0 <= value <= 100):
        raise click.BadParameter("must be a percentage between 0 and 100")
    return value


@click.command("dmarc-reports", help=_DMARC_HELP, short_help="Analyse DMARC aggregate reports.")
@click.argument("files", nargs=-1)
@click.option(
    "--domain",
    metavar="DOMAIN",
    help="Only this domain (and its subdomains); default: every domain in the reports.",
)
@_mailbox_options
@click.option("--esp-profiles", type=click.Path(exists=True, file_okay=False), default=None,
              help="Extra provider profiles (*.toml) to attribute senders with.")  # fmt: skip
@click.option(
    "--tolerance",
    type=float,
    default=0.1,
    show_default=True,
    callback=_tolerance,
    metavar="PERCENT",
    help="Share of legitimate mail allowed to fail before p=reject counts as unsafe.",
)
@dns_options
@report_options
def dmarc_reports(files, domain, imap_url, folder, ca_file, esp_profiles, tolerance, dns_servers,
                  zone_dir, timeout, fmt, output, fail_on) -> None:  # fmt: skip
    from audit.domains import normalize_domain
    from audit.esp.profiles import ProfileError, load_profiles
    from audit.report_analysis import analyse_dmarc, report_domains

    try:
        wanted = normalize_domain(domain) if domain else None
    except ValueError as exc:
        raise BadInput(f"--domain: {exc}") from None
    try:
        profiles = load_profiles(esp_profiles)
    except ProfileError as exc:
        raise BadInput(str(exc)) from None
    read = _read(files, imap_url, folder, ca_file, timeout)
    if not read.reports:
        raise BadInput("no report could be read" + (" (see the refused lines above)"
                                                      if read.refused else ""))  # fmt: skip
    domains = [wanted] if wanted else report_domains(read.reports)
    if not domains:
        raise BadInput("the files hold no DMARC aggregate report (TLS-RPT: audit tls-reports)")
    backend = _backend(dns_servers, zone_dir, timeout)

    async def run():
        return await asyncio.gather(
            *(analyse_dmarc(read, d, backend, profiles, tolerance=tolerance) for d in domains)
        )

    _render_and_exit(list(asyncio.run(run())), fmt, output, fail_on)


@click.command("tls-reports", short_help="Analyse TLS-RPT reports.")
@click.argument("files", nargs=-1)
@click.option("--domain", metavar="DOMAIN", help="Only this policy domain.")
@_mailbox_options
@click.option("--no-audit", is_flag=True,
              help="Do not run a fresh domain audit to explain the failures.")  # fmt: skip
@click.option("--no-probes", is_flag=True,
              help="The fresh domain audit asks DNS only (no SMTP/HTTPS probes).")  # fmt: skip
@click.option("--allow-private-addresses", is_flag=True,
              help="Let the fresh audit's probes connect to non-public addresses DNS names "
              "(refused by default: DNS data is not trusted). For labs and tests.")  # fmt: skip
@dns_options
@report_options
def tls_reports(files, domain, imap_url, folder, ca_file, no_audit, no_probes,
                allow_private_addresses, dns_servers, zone_dir, timeout, fmt, output,
                fail_on) -> None:  # fmt: skip
    """Analyse TLS-RPT reports (FILES: .json, .json.gz, .zip or the report e-mails; or --imap):
    failed sessions per policy and failure type, tied back to what a fresh domain audit finds on
    the MX hosts and the MTA-STS policy."""
    from audit.domain_audit import audit_domain
    from audit.domains import normalize_domain
    from audit.report_analysis import analyse_tls

    try:
        wanted = normalize_domain(domain) if domain else None
    except ValueError as exc:
        raise BadInput(f"--domain: {exc}") from None
    read = _read(files, imap_url, folder, ca_file, timeout)
    if not any(r.kind == "smtp_tls" for r in read.reports):
        raise BadInput("no TLS-RPT report could be read" + (" (see the refused lines above)"
                                                             if read.refused else ""))  # fmt: skip
    backend = _backend(dns_servers, zone_dir, timeout)

    async def fresh_audit(name: str):
        return await audit_domain(name, backend, probes=not no_probes and zone_dir is None,
                                  timeout=timeout,
                                  allow_private_addresses=allow_private_addresses)  # fmt: skip

    reports = asyncio.run(analyse_tls(read, wanted, None if no_audit else fresh_audit))
    _render_and_exit(reports, fmt, output, fail_on)
