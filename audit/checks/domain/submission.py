"""The submission relay of a sending path (`--smtp-relay HOST:PORT`, `smtp` in a [[path]]):
STARTTLS before AUTH, no password mechanism offered in clear text (RFC 8314 3.3, RFC 4954 4),
and the TLS version and certificate judged exactly as the MX probes are (the same probe,
shared through ctx.once, and the starttls check's judgment).
"""

from __future__ import annotations

from typing import Any

from audit.checks.common import DomainContext, temperror_finding
from audit.checks.smtp_tls import certificate_of, judge_probe
from audit.domains import parse_host_port
from audit.model import Finding
from audit.net.dns import is_ip_literal
from audit.net.smtp import SmtpProbe, probe_starttls
from audit.rules.sub import SUB_AUTH_BEFORE_TLS

CLEAR_TEXT_MECHANISMS = ("PLAIN", "LOGIN")
IMPLICIT_TLS_PORT = 465


def split_relay(relay: str) -> tuple[str, int]:
    """(host, port) of a relay already checked by the CLI or the config (parse_host_port)."""
    return parse_host_port(relay)


def auth_mechanisms(extensions: list[str]) -> list[str]:
    """The SASL mechanisms an EHLO reply advertises (`AUTH PLAIN LOGIN`, old `AUTH=PLAIN`)."""
    found: list[str] = []
    for line in extensions:
        words = (
            line.replace("=", " ", 1).split() if line.upper().startswith("AUTH=") else line.split()
        )
        if words and words[0].upper() == "AUTH":
            found += [w.upper() for w in words[1:]]
    return list(dict.fromkeys(found))


async def check_relay(ctx: DomainContext, relay: str) -> tuple[dict[str, Any], list[Finding], bool]:
    """(facts, findings, inconclusive) for one relay."""
    host, port = split_relay(relay)
    facts: dict[str, Any] = {"relay": relay, "probed": False}
    if not ctx.probes:
        facts["reason"] = "network probes are off (--no-probes or --zone-dir)"
        return facts, [], False
    if port == IMPLICIT_TLS_PORT:
        facts["reason"] = "port 465 is implicit TLS (RFC 8314): no clear-text phase to judge"
        return facts, [], False
    if is_ip_literal(host):
        addresses = [host]
    else:
        found = await ctx.resolver.host_addresses(host)
        if found.temperror is not None:
            return (
                facts,
                [temperror_finding(found.temperror, host, "the relay was not probed")],
                True,
            )
        addresses = found.addresses[:1]
        if not addresses:
            facts["reason"] = found.absence
            return facts, [], True
    probe: SmtpProbe = await ctx.once(
        ("submission", host, addresses[0], port),  # never shared with a guarded MX probe
        # a relay the user named (--smtp-relay, [[path]] smtp): not DNS-derived, so the address
        # guard does not apply (like seed relays and --dns-server)
        lambda: probe_starttls(
            host, addresses[0], port, timeout=ctx.timeout, ca_file=ctx.ca_file, allow_private=True
        ),
    )
    analysis = await certificate_of(ctx, probe)
    findings = judge_probe(probe, analysis)
    clear = [m for m in auth_mechanisms(probe.extensions) if m in CLEAR_TEXT_MECHANISMS]
    facts.update(
        probed=True,
        probe=probe.to_dict(),
        auth_before_tls=auth_mechanisms(probe.extensions),
        auth_after_tls=auth_mechanisms(probe.extensions_after_tls),
        certificate=analysis.to_dict() if analysis else None,
    )
    if clear:
        findings.append(
            Finding(
                SUB_AUTH_BEFORE_TLS,
                relay,
                message=f"the submission relay {relay} advertises AUTH {' '.join(clear)} before "
                + ("STARTTLS" if probe.starttls_offered else "any TLS (no STARTTLS offered)")
                + ": a client that sees it may send the password in clear text",
                evidence=[
                    f"banner: {' '.join(probe.banner)}",
                    "EHLO before TLS: " + ", ".join(probe.extensions),
                ],
                fix="Offer AUTH only after STARTTLS: Postfix smtpd_tls_auth_only = yes (and "
                "smtpd_tls_security_level = encrypt on the submission service), or submit on "
                "port 465 with implicit TLS.",
            )
        )
    return facts, findings, probe.status == "not_testable"
