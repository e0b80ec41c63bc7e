"""audit/net/https.fetch against hostile servers and URLs: an error kind, never an exception."""

from __future__ import annotations

import asyncio
import ssl

import pytest

from audit.net.dns import Resolver, memory_backend
from audit.net.https import FetchError, fetch
from tests.infra.certs import TestCA


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hostile")
    ca = TestCA()
    cert, key = ca.issue("x.test").write(directory, "x")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context, str(ca.write_ca(directory / "ca.pem"))


async def _fetch_from(response: bytes, tls, url: str = "https://x.test/logo.svg"):
    context, ca_file = tls

    async def handle(reader, writer):
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(response)
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    resolver = Resolver(memory_backend({"x.test": [("A", "127.0.0.1")]}))
    try:
        return await fetch(resolver, url, port=port, ca_file=ca_file, timeout=3, allow_private=True)
    finally:
        server.close()


@pytest.mark.parametrize(
    ("response", "says"),
    [
        ("HTTP/1.1 ²00 OK\r\n\r\n".encode(), "status line"),
        ("HTTP/1.1 200 OK\r\nContent-Length: ²\r\n\r\n".encode(), "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", "chunk size"),
        # the header bounds (README "Resource bounds"): 100 headers, 32 KiB, one line 32 KiB
        (b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", "headers are too large"),
        (
            b"HTTP/1.1 200 OK\r\n" + (b"X-A: " + b"b" * 1000 + b"\r\n") * 40 + b"\r\n",
            "headers are too large",
        ),  # fmt: skip
        (b"HTTP/1.1 200 OK\r\nX-A: " + b"b" * 40_000 + b"\r\n\r\n", "header line is too long"),
    ],
)
def test_malformed_responses_are_http_errors(tls, response: bytes, says: str) -> None:
    result = asyncio.run(_fetch_from(response, tls))
    assert result.error is FetchError.HTTP
    assert says in result.detail


def test_headers_within_the_bounds_are_read(tls) -> None:
    # the near miss of the bounds above: 99 headers of 300 bytes each (about 30 KiB)
    response = b"HTTP/1.1 200 OK\r\n" + (b"X-A: " + b"b" * 300 + b"\r\n") * 99
    result = asyncio.run(_fetch_from(response + b"Content-Length: 2\r\n\r\nok", tls))
    assert (result.error, result.status, result.body, len(result.headers)) == (
        None,
        200,
        b"ok",
        100,
    )


def test_the_body_is_read_up_to_the_limit_only(tls) -> None:
    body = b"x" * 200_000  # no Content-Length: read until the limit, not until the end
    result = asyncio.run(_fetch_from(b"HTTP/1.1 200 OK\r\n\r\n" + body, tls))
    assert (result.error, len(result.body), result.truncated) == (None, 64 * 1024, True)


def test_non_ascii_path_is_percent_encoded(tls) -> None:
    body = b"<svg/>"
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n" + body
    result = asyncio.run(_fetch_from(response, tls, "https://x.test/l\u00f6go.svg"))
    assert result.error is None and result.body == body
    assert result.path == "/l%C3%B6go.svg"


@pytest.mark.parametrize("url", ["https://[::1/logo.svg", "https://x.test:99999/logo.svg"])
def test_invalid_urls_are_http_errors(url: str) -> None:
    resolver = Resolver(memory_backend({}))
    result = asyncio.run(fetch(resolver, url, port=1, timeout=1))
    assert result.error is FetchError.HTTP and "not a valid URL" in result.detail
