"""`audit domain` options that declare sending paths, and their validation (exit 2 on bad input).

How the flags group into paths (audit.facts.paths): every --esp NAME is a path through that
provider, with --return-path and --dkim-selector; --sending-ip / --helo / --smtp-relay (and
--return-path without --esp) declare one "own MTA or relay" path.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import click

from audit.facts.paths import SendingPath, declared_paths


def path_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--smtp-relay",
            metavar="HOST:PORT",
            default=None,
            help="Submission relay of the own-MTA path: checked for STARTTLS before AUTH.",
        ),
        click.option(
            "--helo",
            metavar="NAME",
            default=None,
            help="HELO name of your own MTA (declares the own-MTA path; its A/AAAA are the "
            "sending IPs when no --sending-ip is given).",
        ),
        click.option(
            "--sending-ip",
            "sending_ips",
            multiple=True,
            metavar="IP",
            help="An IP your own MTA or relay sends from (repeatable; declares the own-MTA path).",
        ),
        click.option(
            "--return-path",
            metavar="DOMAIN",
            default=None,
            help="Envelope sender (bounce) domain of the declared path: of each --esp path, "
            "else of the own-MTA path.",
        ),
        click.option(
            "--esp",
            "esps",
            multiple=True,
            metavar="NAME",
            help="A provider you send through (repeatable; see 'audit esp list'); with "
            "--return-path and --dkim-selector it declares that provider's path.",
        ),
    ]
    for option in options:
        fn = option(fn)
    return fn


def build_paths(
    *,
    esps: tuple[str, ...],
    return_path: str | None,
    sending_ips: tuple[str, ...],
    helo: str | None,
    smtp_relay: str | None,
    dkim_selectors: list[str],
    known_esps: list[str],
) -> list[SendingPath]:
    """The declared paths; raises ValueError with a one-line message for bad input."""
    from audit.domains import normalize_domain

    names = [e.strip().lower() for e in esps]
    unknown = [e for e in names if e not in known_esps]
    if unknown:
        raise ValueError(
            f"--esp {unknown[0]!r} is not a known provider (known: {', '.join(known_esps)}; "
            "add your own with --esp-profiles DIR)"
        )
    try:
        rp = normalize_domain(return_path) if return_path else None
    except ValueError as exc:
        raise ValueError(f"--return-path: {exc}") from None
    ips = []
    for text in sending_ips:
        try:
            ips.append(str(ipaddress.ip_address(text.strip())))
        except ValueError:
            raise ValueError(f"--sending-ip {text!r} is not an IPv4 or IPv6 address") from None
    try:
        helo_name = normalize_domain(helo) if helo else None
    except ValueError as exc:
        raise ValueError(f"--helo: {exc}") from None
    return declared_paths(
        names,
        return_path=rp,
        ips=ips,
        helo=helo_name,
        dkim_selectors=dkim_selectors,
        smtp=parse_relay(smtp_relay) if smtp_relay else None,
    )


def parse_relay(text: str) -> str:
    """HOST:PORT (or [IPv6]:PORT) of a submission relay, normalized."""
    from audit.domains import normalize_domain

    host, colon, port = text.strip().rpartition(":")
    if not colon or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--smtp-relay {text!r} must be HOST:PORT (e.g. smtp.example.com:587)")
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        try:
            host = normalize_domain(host)
        except ValueError as exc:
            raise ValueError(f"--smtp-relay {text!r}: {exc}") from None
    return f"{host}:{int(port)}"
