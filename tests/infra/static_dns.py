"""A loopback UDP DNS server answering from in-memory StaticData, for CLI-level tests.

The RFC 7208 suite needs answers zone files cannot express (a name that times out, a record
type that SERVFAILs), so `audit spf --dns-server 127.0.0.1:PORT` is pointed at this server and
the data is swapped per scenario. Answers follow StaticBackend's semantics (the same the engine
tests use), put on the wire: NOERROR with the records, NODATA, NXDOMAIN, SERVFAIL, and for an
injected TIMEOUT no reply at all. Answers set RA (a recursive resolver's view: CNAME chains
arrive finished). Runs in a thread of the test process; port from the OS (never a fixed one).
"""

from __future__ import annotations

import asyncio
import socket
import threading

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from audit.net.dns import DnsStatus, StaticBackend, StaticData

_RCODES = {
    DnsStatus.NOERROR: dns.rcode.NOERROR,
    DnsStatus.NODATA: dns.rcode.NOERROR,
    DnsStatus.NXDOMAIN: dns.rcode.NXDOMAIN,
    DnsStatus.SERVFAIL: dns.rcode.SERVFAIL,
}


class StaticDnsServer:
    """`with StaticDnsServer() as server: server.data = ...; ... server.address`."""

    def __init__(self) -> None:
        self.data = StaticData()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._loop = asyncio.new_event_loop()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> StaticDnsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()
        self._loop.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            reply = self._answer(wire)
            if reply is not None:
                self._sock.sendto(reply, peer)

    def _answer(self, wire: bytes) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
            question = query.question[0]
        except Exception:  # noqa: BLE001 - junk on a test socket is ignored
            return None
        rdtype = dns.rdatatype.to_text(question.rdtype)
        # the labels as the engine sees them (to_text() would escape a space as \\032)
        name = ".".join(label.decode("latin-1") for label in question.name.labels) or "."
        backend = StaticBackend(self.data)
        answer = self._loop.run_until_complete(backend.lookup(name, rdtype))
        if answer.status is DnsStatus.TIMEOUT:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        response.set_rcode(_RCODES.get(answer.status, dns.rcode.SERVFAIL))
        if answer.status is DnsStatus.NOERROR and answer.rdata:
            rrset = dns.rrset.RRset(question.name, dns.rdataclass.IN, question.rdtype)
            for rd in answer.rdata:
                rrset.add(rd, 0)
            response.answer.append(rrset)
        return response.to_wire(max_size=65535)
