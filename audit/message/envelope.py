"""Envelope reconstruction from the Received chain: which host handed the message over.

A receiver evaluates SPF for the IP and HELO of the SMTP client that connected to its edge, and
the MAIL FROM it was given (kept as Return-Path). From a saved message we read those back from
the topmost Received header written at the receiver's boundary.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from email.message import Message
from typing import Any


@dataclass
class EnvelopeValue:
    """One envelope fact and where it came from (a Received header, Return-Path, the CLI)."""

    value: str | None
    source: str  # e.g. "Received[2]: from mail.example.com (mail.example.com [192.0.2.1])", "--ip"


@dataclass
class Envelope:
    ip: EnvelopeValue
    helo: EnvelopeValue
    mail_from: EnvelopeValue  # "" is the null reverse-path <>; None: unknown
    receiver: EnvelopeValue  # the receiving host/domain of the hop used (by ...)
    hops: list[dict[str, Any]] = field(default_factory=list)  # every Received header, parsed
    edge_index: int | None = None  # which Received header (0 = topmost) is the receiver's edge



_IPV4 = r"(?:\d{1,3}\.){3}\d{1,3}"
_IPV6 = r"[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+"
_BRACKETED_IP = re.compile(rf"\[(?:IPv6:)?({_IPV4}|{_IPV6})\]", re.IGNORECASE)
_PAREN_IP = re.compile(rf"\((?:[^()]*?\s)?({_IPV4}|{_IPV6})\)")
_HELO_EQ = re.compile(r"\b(?:helo|ehlo)[= ]([^\s)\]]+)", re.IGNORECASE)
_CLAUSE = re.compile(r"\b(from|by|via|with|id|for)\s", re.IGNORECASE)
_INTERNAL_NETS = [
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "0.0.0.0/8",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
]


def is_internal(ip: str) -> bool:
    """Private, loopback, link-local or CGNAT: a hop inside someone's network, not an edge.

    Documentation ranges (192.0.2.0/24 ...) count as external: examples use them as public.
    """
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in net for net in _INTERNAL_NETS if net.version == address.version)


@dataclass
class Hop:
    """One Received header, parsed as far as its format allows."""

    index: int  # 0 = topmost (most recent)
    raw: str
    from_helo: str | None = None
    from_rdns: str | None = None
    from_ip: str | None = None
    by: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "from_helo": self.from_helo,
            "from_rdns": self.from_rdns,
            "from_ip": self.from_ip,
            "by": self.by,
            "raw": self.raw,
        }

    def describe(self) -> str:
        return f"Received[{self.index}]: {self.raw[:160]}"


def _valid_ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _clauses(value: str) -> dict[str, str]:
    """Split 'from A (B) by C with D id E for F; date' into its clauses (first of each kind)."""
    header = value.rsplit(";", 1)[0] if ";" in value else value
    found: dict[str, str] = {}
    matches = list(_CLAUSE.finditer(header))
    depth_at = _paren_depths(header)
    matches = [m for m in matches if depth_at[m.start()] == 0]
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(header)
        found.setdefault(m.group(1).lower(), header[m.end() : end].strip())
    return found


def _paren_depths(text: str) -> list[int]:
    depths, depth = [], 0
    for ch in text:
        if ch == "(":
            depth += 1
        depths.append(depth)
        if ch == ")":
            depth = max(depth - 1, 0)
    return depths


def _first_comment(text: str) -> str | None:
    """The first top-level (comment) without the comments nested in it: Sendmail writes
    `(host.example [192.0.2.1] (may be forged))`."""
    depth, words = 0, list[str]()
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
            if depth == 0:
                return "".join(words)
        elif depth == 1:
            words.append(ch)
    return None


def parse_received(index: int, value: str) -> Hop:
    """Postfix, Exim, Sendmail, Exchange, Gmail and SES forms all put the client in `from`."""
    unfolded = " ".join(value.split())
    hop = Hop(index, unfolded)
    clauses = _clauses(unfolded)
    from_part = clauses.get("from")
    if clauses.get("by"):
        hop.by = clauses["by"].split()[0].rstrip(";").lower()
    if not from_part:
        return hop
    first = from_part.split()[0] if from_part.split() else ""
    bracketed = _BRACKETED_IP.search(from_part)
    paren_ip = _PAREN_IP.search(from_part)
    if bracketed:
        hop.from_ip = _valid_ip(bracketed.group(1))
    elif paren_ip:
        hop.from_ip = _valid_ip(paren_ip.group(1))
    helo_eq = _HELO_EQ.search(from_part)
    if first.startswith("["):
        hop.from_helo = helo_eq.group(1) if helo_eq else first.strip("[]")
    else:
        hop.from_helo = helo_eq.group(1) if helo_eq else first
    comment = _first_comment(from_part)
    if helo_eq and not first.startswith("[") and first.lower() != "unknown":
        hop.from_rdns = first.rstrip(".").lower()  # Exim: the verified name, then helo=
    elif comment:
        words = comment.replace("[", " [").split()
        word = words[0] if words else ""
        if (
            word
            and not word.startswith("[")
            and "=" not in word
            and word.lower() not in ("helo", "ehlo", "unknown")
            and _valid_ip(word) is None
        ):
            hop.from_rdns = word.rstrip(".").lower()
    if hop.from_helo:
        hop.from_helo = hop.from_helo.rstrip(".")
    return hop


def parse_hops(message: Message) -> list[Hop]:
    return [parse_received(i, str(v)) for i, v in enumerate(message.get_all("Received") or [])]


def _in_domain(host: str | None, domain: str) -> bool:
    return host is not None and (host == domain or host.endswith("." + domain))


def choose_edge_hop(
    hops: list[Hop], trusted_hops: int | None = None, receiver_domain: str | None = None
) -> Hop | None:
    """The hop whose client handed the message to the receiving domain.

    --trusted-hops N: the top N headers were written inside the receiver; the next one is the
    edge. --receiver-domain D: the topmost header written by a host in D whose client is outside
    D. Otherwise the topmost header with an external client IP, falling back to the topmost
    header with any client IP (loopback test setups).
    """
    with_ip = [h for h in hops if h.from_ip]
    if trusted_hops is not None:
        return hops[trusted_hops] if trusted_hops < len(hops) else None
    if receiver_domain:
        domain = receiver_domain.lower().rstrip(".")
        for hop in hops:
            client_names = (hop.from_rdns, hop.from_helo)
            outside = not any(_in_domain(name, domain) for name in client_names)
            if _in_domain(hop.by, domain) and hop.from_ip and outside:
                return hop
    external = [h for h in with_ip if not is_internal(h.from_ip or "")]
    if external:
        return external[0]
    return with_ip[0] if with_ip else None


def _return_path(message: Message) -> EnvelopeValue:
    values = message.get_all("Return-Path") or []
    if not values:
        return EnvelopeValue(None, "no Return-Path header")
    raw = str(values[0]).strip()
    match = re.search(r"<([^<>]*)>", raw)
    address = match.group(1) if match else raw
    return EnvelopeValue(address.strip(), f"Return-Path: {raw[:200]}")


def _given(given_by: str | None, option: str, what: str) -> str:
    return f"{given_by}: {what}" if given_by else option


def reconstruct_envelope(
    message: Message,
    *,
    ip: str | None = None,
    helo: str | None = None,
    mail_from: str | None = None,
    trusted_hops: int | None = None,
    receiver_domain: str | None = None,
    given_by: str | None = None,
) -> Envelope:
    """The envelope a receiver saw; each value says where it came from, given values win.

    `given_by` names where given values come from when not from the CLI (`audit receive`
    knows the true envelope of the SMTP session: "SMTP session").
    """
    hops = parse_hops(message)
    edge = choose_edge_hop(hops, trusted_hops, receiver_domain)
    source = edge.describe() if edge else "no Received header with a client address"
    envelope = Envelope(
        ip=EnvelopeValue(ip, _given(given_by, "--ip", "peer address"))
        if ip
        else EnvelopeValue(edge.from_ip if edge else None, source),
        helo=EnvelopeValue(helo, _given(given_by, "--helo", "HELO/EHLO"))
        if helo
        else EnvelopeValue(edge.from_helo if edge else None, source),
        mail_from=EnvelopeValue(mail_from, _given(given_by, "--mail-from", "MAIL FROM"))
        if mail_from is not None
        else _return_path(message),
        receiver=EnvelopeValue(edge.by if edge else None, source),
        hops=[h.to_dict() for h in hops],
        edge_index=edge.index if edge else None,
    )
    return envelope
