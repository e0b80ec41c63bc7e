"""The STARTTLS probe of one address and its verdicts, shared by the STARTTLS, MTA-STS, DANE and
submission-relay checks: each (host, address) is probed once per run and its certificate chain
judged once, and every check states a probe's result with the same findings (TLS3xx)."""

from __future__ import annotations

import asyncio
import datetime as dt

from audit.checks.common import DomainContext
from audit.model import Finding
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
