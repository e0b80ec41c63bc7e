"""STARTTLS and the certificate on every address of every MX host (RFC 3207, RFC 6125).

Each (MX host, address) is probed once per run (`probe_mx_address`, shared with the DANE and
MTA-STS checks through `ctx.once`), all of them concurrently. A failing host never hides the
others: every address gets its own facts and findings, targeted at its MX host name.

An address that cannot be probed (refused, timed out, 421) is TLS307, a LOW finding and not a
temperror: outbound port 25 is blocked on most laptops and CI runners, and that alone must not
make every run from there inconclusive. A non-public address (loopback, private, link-local...)
is never contacted unless --allow-private-addresses: NET301 names it, and a host with no other
address is not testable (the check is inconclusive).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from audit.checks.common import DomainContext, temperror_finding
from audit.checks.domain.mx import MxHost, gather_mx
from audit.checks.domain.not_public import not_public_finding
from audit.model import CheckResult, Finding, Status
from audit.net.address_guard import not_public_reason
from audit.net.smtp import (
    NO_STARTTLS,
    NOT_PUBLIC,
    NOT_TESTABLE,
    TLS_FAILED,
    SmtpProbe,
    probe_starttls,
)
from audit.net.trust_store import load_trust_anchors
from audit.records.certificate import (
    EXPIRING_SOON_DAYS,
    CertificateAnalysis,
    CertificateFacts,
    analyze_chain,
)
from audit.rules.tls import (
    TLS_CERT_EXPIRED,
    TLS_CERT_EXPIRING_SOON,
    TLS_CERT_NAME_MISMATCH,
    TLS_CERT_UNTRUSTED,
    TLS_CERT_WEAK,
    TLS_HANDSHAKE_FAILED,
    TLS_LEGACY_VERSION,
    TLS_SMTP_NOT_TESTABLE,
    TLS_STARTTLS_NOT_OFFERED,
)


def _now() -> dt.datetime:
    """The clock certificates are judged by (tests replace it)."""
    return dt.datetime.now(dt.UTC)


async def probe_mx_address(ctx: DomainContext, host: str, address: str) -> SmtpProbe:
    """The STARTTLS probe of one MX address, made once per run whoever asks first."""
    return await ctx.probe_once(
        ("smtp", host, address, ctx.smtp_port),
        lambda: probe_starttls(
            host,
            address,
            ctx.smtp_port,
            timeout=ctx.timeout,
            ca_file=ctx.ca_file,
            allow_private=ctx.allow_private_addresses,
        ),
    )


async def certificate_of(ctx: DomainContext, probe: SmtpProbe) -> CertificateAnalysis | None:
    """The chain a probed address presented, judged once per run (STS007 reads it too)."""
    if not probe.ok:
        return None

    async def judge() -> CertificateAnalysis:
        anchors = await asyncio.to_thread(load_trust_anchors, ctx.ca_file)
        return analyze_chain(probe.chain_der, probe.host, anchors=anchors, now=_now())

    return await ctx.run_once(("certificate", probe.host, probe.address, probe.port), judge)


async def check(ctx: DomainContext) -> CheckResult:
    if not ctx.probes:
        reason = "network probes are off (--no-probes or --zone-dir): STARTTLS not probed"
        return CheckResult(
            facts={"starttls": {"probed": False, "reason": reason}},
            status=Status.SKIPPED,
            error=reason,
        )
    mx = await gather_mx(ctx.resolver, ctx.domain)
    facts: dict[str, Any] = {"probed": True, "port": ctx.smtp_port, "hosts": []}
    if mx.answer.temperror:
        return CheckResult(
            facts={"starttls": facts},
            findings=[
                temperror_finding(mx.answer, ctx.domain, "the MX hosts to probe are unknown")
            ],
            status=Status.INCONCLUSIVE,
        )
    hosts: list[MxHost] = []  # each host once, at its best preference
    for host in mx.hosts:
        if all(host.host != h.host for h in hosts):
            hosts.append(host)
    pairs = list(dict.fromkeys((h.host, a) for h in hosts for a in h.addresses))
    probes = await asyncio.gather(*(probe_mx_address(ctx, h, a) for h, a in pairs))
    analyses = await asyncio.gather(*(certificate_of(ctx, p) for p in probes))
    by_host: dict[str, list[tuple[SmtpProbe, CertificateAnalysis | None]]] = {}
    for probe, analysis in zip(probes, analyses, strict=True):
        by_host.setdefault(probe.host, []).append((probe, analysis))
    findings: list[Finding] = []
    for host in hosts:
        seen = by_host.get(host.host, [])
        facts["hosts"].append(_host_facts(host, seen))
        for probe, analysis in seen:
            findings.extend(judge_probe(probe, analysis))
        refused = [p for p, _a in seen if p.status == NOT_PUBLIC]
        if refused:
            pairs = [(p.address, not_public_reason(p.address) or "?") for p in refused]
            tested = len(refused) < len(seen)
            findings.append(not_public_finding(host.host, pairs, "the STARTTLS probe", tested))
    attempted = [p for p in probes if p.status != NOT_PUBLIC]
    if attempted and all(p.status == NOT_TESTABLE and p.stage == "connect" for p in attempted):
        findings.append(_port_blocked(ctx, attempted))
    unknown = [h for h in hosts if h.temperror is not None and not h.addresses]
    for host in unknown:
        findings.append(
            temperror_finding(
                host.temperror, host.host, f"the addresses of MX {host.host} to probe are unknown"
            )
        )
    untested = [
        h.host
        for h in hosts
        if h.addresses
        and all(p.status in (NOT_TESTABLE, NOT_PUBLIC) for p, _a in by_host.get(h.host, []))
    ] + [h.host for h in unknown]
    if untested:
        # A refused, 421 or stalled host is "not testable" (inconclusive), never "no STARTTLS":
        # no verdict was reached about its TLS. A host with one testable address (e.g. IPv4
        # tested, IPv6 unreachable from here) was judged: TLS307 notes the other address.
        return CheckResult(
            facts={"starttls": facts},
            findings=findings,
            status=Status.INCONCLUSIVE,
            error="not testable: " + ", ".join(untested),
        )
    return CheckResult(facts={"starttls": facts}, findings=findings)


def _host_facts(
    host: MxHost, seen: list[tuple[SmtpProbe, CertificateAnalysis | None]]
) -> dict[str, Any]:
    return {
        "host": host.host,
        "preference": host.preference,
        "addresses": [
            {**probe.to_dict(), "certificate": analysis.to_dict() if analysis else None}
            for probe, analysis in seen
        ],
    }


def _where(probe: SmtpProbe) -> str:
    return f"{probe.host} ({probe.address} port {probe.port})"


def judge_probe(probe: SmtpProbe, analysis: CertificateAnalysis | None) -> list[Finding]:
    """Every finding about one probed address (the MX probes, and submission relays); a
    non-public one is NET301, reported per host."""
    if probe.status == NOT_PUBLIC:
        return []
    if probe.status == NOT_TESTABLE:
        return [_not_testable(probe)]
    if probe.status == TLS_FAILED:
        return [
            Finding(
                TLS_HANDSHAKE_FAILED,
                probe.host,
                message=f"{_where(probe)} offers STARTTLS but the TLS handshake fails: "
                f"{probe.reason}",
                evidence=[
                    f"banner: {' '.join(probe.banner)}",
                    "EHLO: " + ", ".join(probe.extensions),
                    probe.reason or "",
                ],
                fix="Check the server's certificate/key files and cipher settings (test with "
                f"openssl s_client -starttls smtp -connect {probe.host}:{probe.port}); until it "
                "works, stop advertising STARTTLS.",
            )
        ]
    if probe.status == NO_STARTTLS:
        return [
            Finding(
                TLS_STARTTLS_NOT_OFFERED,
                probe.host,
                message=f"{_where(probe)} does not offer STARTTLS ({probe.reason}): mail to it "
                "travels in clear text",
                evidence=[
                    f"banner: {' '.join(probe.banner)}",
                    "EHLO: " + ", ".join(probe.extensions),
                ],
                fix="Enable STARTTLS with a certificate for the MX name (Postfix: "
                "smtpd_tls_security_level = may and smtpd_tls_chain_files; Exim: "
                "tls_advertise_hosts = * with tls_certificate and tls_privatekey).",
            )
        ]
    findings: list[Finding] = []
    if analysis is not None:
        findings.extend(_certificate_findings(probe, analysis))
    legacy = probe.legacy_versions_accepted
    if legacy:
        findings.append(
            Finding(
                TLS_LEGACY_VERSION,
                probe.host,
                message=f"{_where(probe)} accepts {' and '.join(legacy)}, deprecated since "
                "RFC 8996 (2021)",
                evidence=[
                    f"{v}: {'accepted' if ok else 'refused' if ok is False else 'unknown'}"
                    f" ({probe.version_notes.get(v, '')})"
                    for v, ok in probe.accepted_versions.items()
                ],
                fix="Accept TLS 1.2 and 1.3 only (Postfix: smtpd_tls_protocols = >=TLSv1.2 and "
                "smtpd_tls_mandatory_protocols = >=TLSv1.2).",
            )
        )
    return findings


def _certificate_findings(probe: SmtpProbe, cert: CertificateAnalysis) -> list[Finding]:
    findings: list[Finding] = []
    leaf = cert.leaf
    evidence = _cert_evidence(cert)
    if cert.trust.trusted is False:
        findings.append(
            Finding(
                TLS_CERT_UNTRUSTED,
                probe.host,
                message=f"the certificate presented by {_where(probe)} is not trusted: "
                f"{cert.trust.reason}",
                evidence=evidence,
                fix="Use a certificate from a public CA (e.g. Let's Encrypt) and configure the "
                "full chain (leaf then intermediates) on the server.",
            )
        )
    if leaf is None:
        return findings
    if not cert.name_ok:
        names = ", ".join(leaf.san_dns) or "no DNS names"
        cn_note = (
            f"; the name is only in the subject CN ({leaf.common_name}), which RFC 6125 "
            "clients ignore"
            if leaf.common_name and leaf.common_name.lower() == probe.host
            else ""
        )
        findings.append(
            Finding(
                TLS_CERT_NAME_MISMATCH,
                probe.host,
                message=f"the certificate presented by {_where(probe)} is for {names}, not "
                f"{probe.host}{cn_note}",
                evidence=evidence,
                fix=f"Issue a certificate whose subjectAltName includes {probe.host} (or a "
                f"*.{probe.host.partition('.')[2]} wildcard).",
            )
        )
    if cert.expired or cert.not_yet_valid:
        when = (
            f"expired on {leaf.not_after:%Y-%m-%d} ({-(cert.days_left or 0)} days ago)"
            if cert.expired
            else f"is not valid before {leaf.not_before:%Y-%m-%d %H:%M} UTC"
        )
        findings.append(
            Finding(
                TLS_CERT_EXPIRED,
                probe.host,
                message=f"the certificate presented by {_where(probe)} {when}",
                evidence=evidence,
                fix="Renew the certificate, install it, and reload the mail server; automate "
                "renewal (ACME) and the reload.",
            )
        )
    elif cert.expiring_soon():
        findings.append(_expiring(probe, cert, evidence))
    weak = weak_points(leaf)
    if weak:
        findings.append(
            Finding(
                TLS_CERT_WEAK,
                probe.host,
                message=f"the certificate presented by {_where(probe)} has "
                + " and ".join(weak)
                + ": TLS libraries at current security levels (OpenSSL level 2) refuse it, and "
                "senders that validate fall back or fail",
                evidence=evidence,
                fix="Reissue it with an RSA 2048+ or ECDSA P-256 key, signed with SHA-256.",
            )
        )
    return findings


def weak_points(leaf: CertificateFacts) -> list[str]:
    """What current TLS libraries reject in a leaf: short RSA keys, SHA-1/MD5 signatures."""
    problems = []
    if leaf.key_type.lower() == "rsa" and leaf.key_bits and leaf.key_bits < 2048:
        problems.append(f"a {leaf.key_bits}-bit RSA key")
    algorithm = leaf.signature_algorithm.lower()
    if "sha1" in algorithm.replace("-", "") or "md5" in algorithm:
        problems.append(f"a {leaf.signature_algorithm} signature")
    return problems


def _expiring(probe: SmtpProbe, cert: CertificateAnalysis, evidence: list[str]) -> Finding:
    leaf = cert.leaf
    assert leaf is not None
    return Finding(
        TLS_CERT_EXPIRING_SOON,
        probe.host,
        message=f"the certificate presented by {_where(probe)} expires on "
        f"{leaf.not_after:%Y-%m-%d} ({cert.days_left} days left, under "
        f"{EXPIRING_SOON_DAYS})",
        evidence=evidence,
        fix="Renew it now; check that automatic renewal also reloads the mail server "
        "(a renewed file the running server never read is a common cause).",
    )


def _cert_evidence(cert: CertificateAnalysis) -> list[str]:
    leaf = cert.leaf
    if leaf is None:
        return [cert.parse_error or "no certificate"]
    key = f"{leaf.key_type} {leaf.key_bits or '?'}" + (f" {leaf.curve}" if leaf.curve else "")
    return [
        f"subject: {leaf.subject}",
        "subjectAltName: " + (", ".join(leaf.san_dns + leaf.san_ip) or "(none)"),
        f"issuer: {leaf.issuer}",
        f"valid: {leaf.not_before:%Y-%m-%d} to {leaf.not_after:%Y-%m-%d} "
        f"({cert.days_left} days left)",
        f"key: {key}; signature: {leaf.signature_algorithm}",
        f"chain presented: {len(cert.chain)} certificate(s)",
    ]


def _not_testable(probe: SmtpProbe) -> Finding:
    reason = probe.reason or "unknown"
    if probe.stage == "connect":
        fix = (
            f"Check that {probe.address} accepts connections on port {probe.port} from the "
            "Internet. From a laptop, home network or CI runner, outbound port 25 is often "
            "blocked: run the audit from a host that can send mail."
        )
    elif reason.startswith(("banner 421", "EHLO answered 421", "STARTTLS answered 421")):
        fix = (
            "The server turned the session away (421): it may be overloaded, or rate-limiting "
            "or blocking this client's address. Retry later, or from another address."
        )
    else:
        fix = "Retry later; if it persists, check the server's logs for this connection."
    return Finding(
        TLS_SMTP_NOT_TESTABLE,
        probe.host,
        message=f"{_where(probe)} could not be tested: {reason} (stage: {probe.stage}); its "
        "STARTTLS and certificate are unknown",
        evidence=[f"banner: {' '.join(probe.banner)}"] if probe.banner else [],
        fix=fix,
    )


def _port_blocked(ctx: DomainContext, probes: list[SmtpProbe]) -> Finding:
    reasons = sorted({p.reason or "?" for p in probes})
    return Finding(
        TLS_SMTP_NOT_TESTABLE,
        ctx.domain,
        message=f"no MX address of {ctx.domain} could be reached on port {ctx.smtp_port} "
        f"({'; '.join(reasons)}): outbound port {ctx.smtp_port} may be blocked from this "
        "machine, so STARTTLS was not tested anywhere",
        evidence=[f"{p.host} {p.address}: {p.reason}" for p in probes],
        fix="Run the audit from a host that can open outbound connections to port 25 (a mail "
        "server or VPS); many ISPs, clouds and CI runners block it.",
    )
