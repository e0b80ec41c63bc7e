"""The lean UDP wire (audit/net/dns_wire.py) against Knot on loopback: the same answers as
dnspython for every fixture question (status, records, CNAME chain, TTL), many questions at once
over a few sockets with each answer reaching its own question, forged and late datagrams, and
source ports renewed. The fault matrix (drop, SERVFAIL, REFUSED, wrong id/question, garbage,
TC -> TCP) runs through the CLI in test_dns_faults.py, which now goes over this wire.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time

import pytest

from audit.net import dns_wire
from audit.net.dns import DnsAnswer, DnsStatus, NetworkBackend, ServerAddress
from tests.integration.test_dns_backends import ZONE_FILES, questions_for

QUESTIONS = sorted({q for f in ZONE_FILES for q in questions_for(f)})


def _backend(server, wire: bool = True, timeout: float = 3) -> NetworkBackend:
    return NetworkBackend([ServerAddress(server.host, server.port)], timeout=timeout, wire=wire)


def _signature(answer: DnsAnswer) -> tuple:
    return (answer.status, answer.records, answer.cname_chain, answer.ttl, answer.name)


async def _all(backend: NetworkBackend, questions, limit: int = 64) -> list[DnsAnswer]:
    gate = asyncio.Semaphore(limit)

    async def one(question):
        async with gate:
            return await backend.lookup(*question)

    return list(await asyncio.gather(*(one(q) for q in questions)))


def test_wire_and_dnspython_give_the_same_answers(knot_server):
    wire = asyncio.run(_all(_backend(knot_server), QUESTIONS))
    dnspython = asyncio.run(_all(_backend(knot_server, wire=False), QUESTIONS))
    differ = [
        f"{q}: wire {_signature(a)} / dnspython {_signature(b)}"
        for q, a, b in zip(QUESTIONS, wire, dnspython, strict=True)
        if _signature(a) != _signature(b)
    ]
    assert not differ, "\n".join(differ[:20])
    statuses = {a.status for a in wire}
    assert {DnsStatus.NOERROR, DnsStatus.NODATA, DnsStatus.NXDOMAIN, DnsStatus.SERVFAIL} <= statuses
    assert any(a.cname_chain for a in wire) and all(a.error is None for a in wire if a.exists)


def test_many_questions_at_once_share_a_few_sockets(knot_server):
    # Knot's own socket may drop some of a burst this size: a long lifetime lets retries cover it
    backend = _backend(knot_server, timeout=10)
    questions = QUESTIONS * 2  # the same question in flight twice over: ids tell them apart

    async def run():
        answers = await _all(backend, questions, limit=1000)
        mux = backend._wire._muxes[asyncio.get_running_loop()]
        sockets = [s for group in mux.sockets.values() for s in group]
        ports = {s.sock.getsockname()[1] for s in sockets}
        return answers, sockets, ports

    answers, sockets, ports = asyncio.run(run())
    one_by_one = asyncio.run(_all(_backend(knot_server, wire=False), questions, limit=1))
    assert [_signature(a) for a in answers] == [_signature(b) for b in one_by_one]
    # a few sockets, each holding at most PER_SOCKET questions at a time, each its own port
    assert dns_wire.SOCKETS < len(sockets) <= len(questions) // dns_wire.PER_SOCKET + 1
    assert len(ports) == len(sockets)
    assert all(not s.waiting for s in sockets)  # nothing left behind


def _forge(question_tail: bytes, qid: int, port: int) -> None:
    """A NOERROR answer with one A record (192.0.2.66) for the question, sent from a socket
    that is not the server's."""
    header = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0)
    record = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + bytes([192, 0, 2, 66])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as forger:
        forger.sendto(header + question_tail + record, ("127.0.0.1", port))


def test_an_answer_from_another_address_is_ignored(drop_proxy):
    backend = _backend(drop_proxy, timeout=1)  # the server never answers

    async def run():
        task = asyncio.ensure_future(backend.lookup("mail.clean.test", "A"))
        for _ in range(100):
            await asyncio.sleep(0.01)
            mux = backend._wire._muxes.get(asyncio.get_running_loop())
            waiting = [(s, q) for g in (mux.sockets.values() if mux else ()) for s in g
                       for q in s.waiting.items()]  # fmt: skip
            if waiting:
                break
        sock, (qid, (_, question, _)) = waiting[0]
        _forge(question, qid, sock.sock.getsockname()[1])
        return await task

    answer = asyncio.run(run())
    assert answer.status is DnsStatus.TIMEOUT and not answer.rdata


def test_an_answer_read_late_is_not_a_timeout(knot_server):
    """The loop is busy past the question's time limit while the answer sits in the socket:
    it is read before the timer gives up."""
    backend = _backend(knot_server, timeout=0.5)

    async def run():
        task = asyncio.ensure_future(backend.lookup("clean.test", "MX"))
        await asyncio.sleep(0)  # the question leaves
        time.sleep(1.2)  # a CPU-bound stretch: no event-loop turn until well past 0.5 s
        return await task

    answer = asyncio.run(run())
    assert answer.status is DnsStatus.NOERROR and answer.records


def test_source_ports_are_renewed(knot_server, monkeypatch):
    monkeypatch.setattr(dns_wire, "ROTATE_AFTER", 3)
    backend = _backend(knot_server)
    questions = QUESTIONS[:40]

    async def run():
        seen: dict[int, object] = {}
        answers = []
        for question in questions:
            answers.append(await backend.lookup(*question))
            mux = backend._wire._muxes[asyncio.get_running_loop()]
            seen |= {id(s): s for group in mux.sockets.values() for s in group}
        current = {id(s) for group in mux.sockets.values() for s in group}
        return answers, [s for key, s in seen.items() if key not in current]

    answers, replaced = asyncio.run(run())
    expected = asyncio.run(_all(_backend(knot_server, wire=False), questions))
    assert [_signature(a) for a in answers] == [_signature(b) for b in expected]
    assert len(replaced) >= len(questions) // 3 - dns_wire.SOCKETS  # fresh sockets came in
    assert all(s.sock.fileno() == -1 for s in replaced)  # and the used ones were closed


@pytest.mark.parametrize(
    "name", ["a" * 64 + ".clean.test", "x..clean.test", ("a" * 60 + ".") * 5 + "test"]
)
def test_names_that_cannot_exist_are_nxdomain_without_a_question(knot_server, name):
    answer = asyncio.run(_backend(knot_server).lookup(name, "TXT"))
    assert answer.status is DnsStatus.NXDOMAIN and answer.error


def test_sockets_of_finished_event_loops_are_closed(knot_server):
    """One backend over many asyncio.run calls (a new loop each): the sockets of each finished
    loop are closed, not kept until the backend goes (the suite once ran out of descriptors)."""
    import os

    backend = _backend(knot_server)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(100):
        assert asyncio.run(backend.lookup("clean.test", "MX")).status is DnsStatus.NOERROR
    assert len(os.listdir("/proc/self/fd")) <= before + dns_wire.SOCKETS
