"""audit/net/http_client.py without a server: the address guard in the network backend, the
bounded body reader, and digging the socket's error out of httpcore/anyio's wrapping.
(Against the real loopback HTTPS server: tests/integration/test_https_fetch.py.)"""

from __future__ import annotations

import asyncio
import errno

import httpx
import pytest

from audit.net.http_client import NoConnection, PinnedBackend, os_error, os_reason, read_bounded


def test_the_guard_refuses_non_public_addresses_before_connecting():
    backend = PinnedBackend(["127.0.0.1", "10.1.2.3"], guard=True)
    with pytest.raises(NoConnection) as caught:
        asyncio.run(backend.connect_tcp("policy.example.com", 443, timeout=1))
    attempts = caught.value.attempts
    assert attempts.not_public == [("127.0.0.1", "loopback"), ("10.1.2.3", "private (RFC 1918)")]
    assert (attempts.tried, attempts.connected, attempts.problems) == (None, None, [])


def _streamed(chunks: list[bytes], pulled: list[bytes]) -> httpx.Response:
    async def body():
        for chunk in chunks:
            pulled.append(chunk)
            yield chunk

    return httpx.Response(200, content=body())


@pytest.mark.parametrize(
    ("limit", "expected", "pulled_count"),
    [
        (25, (b"a" * 10 + b"b" * 10 + b"c" * 5, True), 3),  # stops inside the third chunk
        (30, (b"a" * 10 + b"b" * 10 + b"c" * 10, False), 3),  # the near miss: exactly the limit
        (9, (b"a" * 9, True), 1),  # the rest is never pulled
    ],
)
def test_bodies_are_read_up_to_the_limit_and_no_further(limit, expected, pulled_count):
    pulled: list[bytes] = []
    response = _streamed([b"a" * 10, b"b" * 10, b"c" * 10], pulled)
    assert asyncio.run(read_bounded(response, limit)) == expected
    assert len(pulled) == pulled_count


def test_a_whole_response_is_cut_at_the_limit_too():
    assert asyncio.run(read_bounded(httpx.Response(200, content=b"x" * 12), 10)) == (
        b"x" * 10,
        True,
    )


def test_the_socket_error_behind_anyio_s_group_is_found():
    refused = ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
    try:
        try:
            raise OSError("All connection attempts failed") from ExceptionGroup("", [refused])
        except OSError as exc:
            raise httpx.ConnectError("All connection attempts failed") from exc
    except httpx.ConnectError as wrapped:
        assert os_error(wrapped) is refused
        assert os_reason(os_error(wrapped), wrapped) == "Connection refused"
    assert os_error(httpx.ReadTimeout("slow")) is None
