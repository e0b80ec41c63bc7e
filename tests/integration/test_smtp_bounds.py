"""The STARTTLS probe's reply bounds (README "Resource bounds"): an SMTP server that sends a
reply of more than 100 lines, or a line of more than 8 KiB, ends the probe as not testable;
what fits is read. Servers on loopback, in the test's own event loop."""

from __future__ import annotations

import asyncio

import pytest

from audit.net.smtp import LINE_LIMIT, MAX_REPLY_LINES, NOT_TESTABLE, SmtpProbe, probe_starttls


async def _probe(banner: bytes, ehlo: bytes) -> SmtpProbe:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(banner)
            await writer.drain()
            while line := await reader.readline():
                if line.upper().startswith(b"EHLO"):
                    writer.write(ehlo)
                elif line.upper().startswith(b"STARTTLS"):
                    writer.write(b"454 4.7.0 not now\r\n")
                else:
                    writer.write(b"221 bye\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        return await probe_starttls(
            "mx.bounds.test", "127.0.0.1", port, timeout=3, ca_file=None, allow_private=True
        )
    finally:
        server.close()


def _ehlo(lines: int) -> bytes:
    body = [b"250-mx.bounds.test"] + [b"250-X-FILLER-%d" % i for i in range(lines - 2)]
    return b"\r\n".join([*body, b"250 STARTTLS"]) + b"\r\n"


def test_a_reply_over_the_line_count_is_not_testable():
    probe = asyncio.run(_probe(b"220 mx ESMTP\r\n", _ehlo(MAX_REPLY_LINES + 1)))
    assert (probe.status, probe.stage) == (NOT_TESTABLE, "ehlo")
    assert probe.reason == f"reply longer than {MAX_REPLY_LINES} lines"


def test_a_reply_within_the_line_count_is_read():
    probe = asyncio.run(_probe(b"220 mx ESMTP\r\n", _ehlo(MAX_REPLY_LINES)))
    assert probe.starttls_offered and len(probe.extensions) == MAX_REPLY_LINES - 1
    assert probe.reason.startswith("STARTTLS offered but temporarily refused")


@pytest.mark.parametrize("size", [LINE_LIMIT * 2, 1_000_000])
def test_an_over_long_line_is_not_testable(size):
    probe = asyncio.run(_probe(b"220 " + b"x" * size + b"\r\n", _ehlo(3)))
    assert (probe.status, probe.stage) == (NOT_TESTABLE, "banner")
    assert probe.reason == "over-long reply line waiting for the banner"
    assert probe.banner == []
