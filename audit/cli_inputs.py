"""Pure checks of what users type on the command line: refuse what cannot be meant, never
silently change a value into another one.

Two kinds of values are told apart:
* protocol values (MAIL FROM, HELO) that a receiver gets from any SMTP client and must evaluate:
  passed through as typed; only what cannot travel on an SMTP command line is refused;
* addresses the tool itself connects to (`--dns-server`): parsed strictly, one line on error.
"""

from __future__ import annotations

import ipaddress
import re

# RFC 5321 2.3.8: a command line ends at CRLF; NUL is not text. Nothing else is ours to refuse.
_NOT_ON_A_COMMAND_LINE = re.compile(r"[\x00\r\n]")
_PORT = re.compile(r"^[0-9]{1,5}$")


def protocol_value(text: str, what: str) -> str:
    """`text` stripped of surrounding blanks, or ValueError when no SMTP client could send it."""
    if _NOT_ON_A_COMMAND_LINE.search(text):
        raise ValueError(f"{what} {text!r} holds a NUL, CR or LF: no SMTP command can carry it")
    return text.strip()


def _port(text: str, whole: str) -> int:
    if not _PORT.match(text):
        raise ValueError(f"--dns-server {whole!r}: the port must be a number from 1 to 65535")
    if not 0 < int(text) < 65536:
        raise ValueError(f"--dns-server {whole!r}: port out of range (1 to 65535)")
    return int(text)


def dns_server(text: str) -> tuple[str, int]:
    """`IP`, `IP:PORT`, `[IPv6]`, `[IPv6]:PORT` or a bare IPv6 address (the resolver asks
    servers by address). Anything else (an unclosed bracket, junk after it, an empty port, a
    name) is ValueError naming the value: a typo must not silently become another server."""
    whole = text
    text = text.strip()
    if not text:
        raise ValueError("--dns-server: empty server address")
    port = 53
    if text.startswith("["):
        inner, closed, rest = text[1:].partition("]")
        if not closed:
            raise ValueError(f"--dns-server {whole!r}: '[' without its closing ']'")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"--dns-server {whole!r}: only :PORT may follow ']'")
            port = _port(rest[1:], whole)
        try:
            return str(ipaddress.IPv6Address(inner)), port
        except ValueError:
            raise ValueError(f"--dns-server {whole!r}: {inner!r} is not an IPv6 address") from None
    if "]" in text:
        raise ValueError(f"--dns-server {whole!r}: ']' without its opening '['")
    if text.count(":") > 1:  # a bare IPv6 address: no port possible without brackets
        try:
            return str(ipaddress.IPv6Address(text)), port
        except ValueError:
            raise ValueError(
                f"--dns-server {whole!r} is not an IPv6 address (write [IPv6]:PORT for a port)"
            ) from None
    host, colon, port_text = text.partition(":")
    if colon:
        port = _port(port_text, whole)
    try:
        return str(ipaddress.IPv4Address(host)), port
    except ValueError:
        raise ValueError(
            f"--dns-server {whole!r}: the DNS server must be an IP address, got {host!r} "
            "(IP, IP:PORT or [IPv6]:PORT)"
        ) from None
