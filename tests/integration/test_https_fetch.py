"""The HTTPS client (`audit/net/https.py`) against the loopback test server: framing, limits,
certificate diagnosis and timeouts. Names resolve through an in-memory resolver (no Knot)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator

import pytest

from audit.net.dns import Resolver, memory_backend
from audit.net.https import FetchError, HttpsResult, fetch
from tests.infra.certs import TestCA
from tests.infra.https_server import HttpsServer, StallServer

HOSTS = ["plain", "chunked", "big", "bigchunked", "redirect", "bad", "exact", "stall"]
SECOND = "second.test"  # its first address refuses, its second serves


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HttpsServer, str]]:
    base = tmp_path_factory.mktemp("https")
    ca = TestCA("audit test CA (https)")
    ca_file = str(ca.write_ca(base / "ca.pem"))
    server = HttpsServer.start(ca, base / "certs")
    server.route("plain.test", "/x", body=b"hello\n")
    server.route(SECOND, "/x", body=b"from the second address\n")
    server.route("chunked.test", "/x", body=b"0123456789" * 400, chunked=True)
    server.route("big.test", "/x", body=b"a" * 5000)
    server.route("bigchunked.test", "/x", body=b"b" * 5000, chunked=True)
    server.route("exact.test", "/x", body=b"c" * 4096)
    server.route("redirect.test", "/x", status=302, headers={"Location": "/elsewhere"})
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    bad = ca.issue(
        "other.test", self_signed=True, not_before=past - dt.timedelta(days=9), not_after=past
    )
    server.add_host("bad.test", bad)
    server.route("bad.test", "/x", body=b"x")
    try:
        yield server, ca_file
    finally:
        server.stop()


def _resolver() -> Resolver:
    records = {f"{h}.test": [("A", "127.0.0.1")] for h in HOSTS}
    records["refused.test"] = [("A", "127.0.0.2")]
    records[SECOND] = [("A", "127.0.0.2"), ("A", "127.0.0.1")]
    records["v6only.test"] = [("AAAA", "2001:db8::1")]
    records["slowdns.test"] = [("TIMEOUT", "")]
    return Resolver(memory_backend(records))


def get(
    server, host: str, *, port: int | None = None, timeout: float = 3, limit: int = 4096,
    allow_private: bool = True,  # the server is on loopback
):
    https, ca_file = server
    url = f"https://{host}/x"
    return asyncio.run(
        fetch(
            _resolver(), url, port=port or https.port, ca_file=ca_file, timeout=timeout,
            max_bytes=limit, allow_private=allow_private,
        )
    )  # fmt: skip


def test_a_loopback_host_is_not_fetched_without_the_flag(server):
    refused = get(server, "plain.test", allow_private=False)
    assert (refused.error, refused.address, refused.status) == (FetchError.NOT_PUBLIC, None, None)
    assert refused.detail == "refused to connect to 127.0.0.1: not a public address (loopback)"
    assert refused.not_public == [("127.0.0.1", "loopback")]
    assert "not-public error" in refused.describe()
    assert get(server, "plain.test").status == 200  # the near miss: allowed, fetched


def test_content_length_and_chunked_bodies(server):
    plain = get(server, "plain.test")
    assert (plain.status, plain.body, plain.truncated, plain.error) == (
        200,
        b"hello\n",
        False,
        None,
    )
    assert plain.media_type == "text/plain" and plain.address == "127.0.0.1"
    assert plain.certificate is not None and plain.certificate.names == ["plain.test"]
    chunked = get(server, "chunked.test")
    assert chunked.body == b"0123456789" * 400 and not chunked.truncated
    assert chunked.header("transfer-encoding") == "chunked"


def test_bodies_are_bounded(server):
    exact = get(server, "exact.test")
    assert len(exact.body) == 4096 and not exact.truncated
    for host in ("big.test", "bigchunked.test"):
        result = get(server, host)
        assert len(result.body) == 4096 and result.truncated, host


def test_redirect_is_reported_not_followed(server):
    result = get(server, "redirect.test")
    assert (result.status, result.redirect, result.location) == (302, True, "/elsewhere")
    assert result.error is None


def test_every_certificate_problem_is_named(server):
    result = get(server, "bad.test")
    assert result.error is FetchError.TLS
    assert result.tls_problems == ["untrusted", "expired", "name-mismatch"]
    assert result.certificate is not None and result.certificate.names == ["other.test"]
    assert result.status is None and result.body == b""


def test_dns_outcomes(server):
    missing = get(server, "nowhere.test")
    assert missing.error is FetchError.DNS and missing.temperror is None
    assert missing.detail == "nowhere.test does not exist (NXDOMAIN)"
    slow = get(server, "slowdns.test")
    assert slow.error is FetchError.DNS and slow.temperror is not None  # unknown, not absent


def test_connect_refused(server):
    result = get(server, "refused.test")
    assert result.error is FetchError.CONNECT and "Connection refused" in result.detail
    assert result.address == "127.0.0.2"


def test_stalling_server_times_out(server):
    stall = StallServer()
    try:
        result = get(server, "stall.test", port=stall.port, timeout=0.3)
    finally:
        stall.stop()
    assert result.error is FetchError.TIMEOUT
    assert result.detail == "TLS handshake took over 0.3s"


def test_only_https_urls():
    result = asyncio.run(fetch(_resolver(), "http://plain.test/x"))
    assert isinstance(result, HttpsResult) and result.error is FetchError.HTTP


def test_the_addresses_our_resolver_found_are_tried_in_turn(server):
    """The connection goes to the resolved addresses (not the OS resolver's), the next one when
    one refuses; TLS still checks the certificate for the host name, and the Host header is it."""
    https, _ = server
    result = get(server, SECOND)
    assert (result.error, result.status, result.body) == (None, 200, b"from the second address\n")
    assert result.addresses == ["127.0.0.2", "127.0.0.1"] and result.address == "127.0.0.1"
    assert result.certificate is not None and result.certificate.names == [SECOND]
    assert https.requests[-1] == (SECOND, "/x")
