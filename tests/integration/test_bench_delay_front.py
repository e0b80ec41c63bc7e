"""bench/delayed_dns.py fronts before a real Knot: every answer, over UDP and over TCP (a
truncated answer retried, checkdmarc's DNSSEC questions), is Knot's own, held back the delay."""

from __future__ import annotations

import shutil
import time

import dns.message
import dns.query
import dns.rcode
import pytest

from bench import delayed_dns
from tests.infra.netutil import free_port

DELAY_MS = 40.0


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_the_c_relay_passes_knot_answers_on_after_the_delay(knot_server, tmp_path, transport):
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.fail("no C compiler: the benchmark's DNS front cannot be built", pytrace=False)
    port = free_port()
    front = delayed_dns.start(knot_server.port, DELAY_MS, tmp_path, port, kind="c")
    try:
        assert front.kind.startswith("C relay")
        ask = dns.query.udp if transport == "udp" else dns.query.tcp
        query = dns.message.make_query("clean.test", "TXT", want_dnssec=True)
        direct = ask(query, "127.0.0.1", port=knot_server.port, timeout=5)
        start = time.monotonic()
        relayed = ask(query, "127.0.0.1", port=port, timeout=5)
        elapsed_ms = 1000 * (time.monotonic() - start)
        assert relayed.id == query.id and dns.rcode.to_text(relayed.rcode()) == "NOERROR"
        assert relayed.answer == direct.answer and relayed.answer  # Knot's records, unchanged
        assert elapsed_ms >= DELAY_MS - 1  # held back (a tick may read the query up to 1 ms late)
        missing = dns.message.make_query("no-such-name.test", "A")
        assert dns.rcode.to_text(ask(missing, "127.0.0.1", port=port, timeout=5).rcode()) == (
            "NXDOMAIN"
        )
    finally:
        front.stop()
