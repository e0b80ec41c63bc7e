"""STARTTLS and certificate rules for every MX address (RFC 3207, RFC 6125, RFC 8996)."""

from audit.model import Rule, Severity

TLS_STARTTLS_NOT_OFFERED = Rule(
    "TLS301",
    "starttls-not-offered",
    Severity.HIGH,
    "An MX host does not offer STARTTLS: mail to it travels in clear text",
)
TLS_CERT_UNTRUSTED = Rule(
    "TLS302",
    "tls-certificate-untrusted",
    Severity.MEDIUM,
    "An MX host's certificate does not chain to a trusted CA",
)
TLS_CERT_NAME_MISMATCH = Rule(
    "TLS303",
    "tls-certificate-name-mismatch",
    Severity.MEDIUM,
    "An MX host's certificate is not valid for the MX host name",
)
TLS_CERT_EXPIRED = Rule(
    "TLS304",
    "tls-certificate-expired",
    Severity.HIGH,
    "An MX host's certificate has expired (or is not yet valid)",
)
TLS_CERT_EXPIRING_SOON = Rule(
    "TLS305",
    "tls-certificate-expiring-soon",
    Severity.MEDIUM,
    "An MX host's certificate expires in less than 14 days",
)
TLS_LEGACY_VERSION = Rule(
    "TLS306",
    "tls-legacy-version-accepted",
    Severity.LOW,
    "An MX host accepts TLS 1.0 or 1.1 (deprecated by RFC 8996)",
)
# Not a temperror finding: the starttls check itself is marked inconclusive when an MX host had
# no testable address (exit 3 if nothing else fails); an untestable second address of a host
# that was tested (IPv6 unreachable from here) is only this LOW note.
TLS_SMTP_NOT_TESTABLE = Rule(
    "TLS307",
    "smtp-not-testable",
    Severity.LOW,
    "An MX address could not be probed (refused, timed out, 421): its TLS is unknown",
)
TLS_CERT_WEAK = Rule(
    "TLS308",
    "tls-certificate-weak",
    Severity.MEDIUM,
    "An MX certificate has an RSA key under 2048 bits or a SHA-1/MD5 signature",
)
TLS_HANDSHAKE_FAILED = Rule(
    "TLS309",
    "tls-handshake-failed",
    Severity.HIGH,
    "An MX host offers STARTTLS but the TLS handshake after it fails",
)
