"""A lean DNS wire for plain questions: a few UDP sockets per event loop, answers matched to
questions by id and question, and only the part of each answer the audit reads parsed.

dnspython opens a socket, a transport and a task per question and parses every answer into a
full message (names, rrsets, hashes): at thousands of questions a second that is most of a batch
run's CPU. Here:

* each event loop keeps `SOCKETS` UDP sockets (kernel-chosen random source ports, renewed after
  `ROTATE_AFTER` questions; one more for each `PER_SOCKET` questions in flight beyond that, so
  a burst of answers fits the receive buffers), each question goes out on one of them with a
  random unused id, and the one reader per socket hands each datagram to the question whose
  id, server address and question section it matches; anything else (a late, spoofed, garbled
  or foreign datagram) is dropped, as dnspython does with `ignore_unexpected`;
* the query is built from the name's text directly (no EDNS, RD set: what dnspython's resolver
  sends); a truncated answer (TC) is asked again over TCP;
* retries follow dnspython's resolver: servers in order, a timed-out server is asked again after
  a growing pause (0.1 s doubling to 2 s) until the lifetime ends (a `WireTimeout`); a server
  answering SERVFAIL, REFUSED or another bad rcode, or failing at the socket, is dropped and,
  when none is left, the question fails with each reason (a `WireFailure`);
* an answer is read for its rcode, the RA flag, the CNAME chain from the name asked, the records
  of the type asked at the chain's end (dnspython rdata objects, as the checks expect) and the
  SOA's negative TTL; nothing else is built;
* a datagram that arrives while the loop is busy is read before its question's timer fires
  (the timer drains the socket first): an answer read late is not a timeout.

DNSSEC questions (DO, whole sections wanted) still go through dnspython.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import ipaddress
import math
import secrets
import socket
import struct
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.wire

from audit.net.dns_answers import MAX_CNAME_CHAIN

R = TypeVar("R")

SOCKETS = 4
PER_SOCKET = 64  # questions waiting on one socket before another is opened (a burst of answers
# must fit its receive buffer: the kernel drops what does not)
RECEIVE_BUFFER = 1 << 20  # asked for; the kernel caps it (net.core.rmem_max)
ROTATE_AFTER = 20_000  # questions per socket before it gets a fresh source port
MAX_UDP = 65535
RD = 0x0100
TC = 0x0200
QR = 0x8000
RA = 0x0080
CD = 0x0010
CNAME = 5
SOA = 6
IN = 1
_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_*")
# The OPT record of a DNSSEC question (RFC 6891): root owner, 1232-octet payload, the DO bit.
OPT_DO = b"\0" + struct.pack("!HHIH", 41, 1232, 0x8000, 0)
TICK = 0.05  # timers are grouped by this: a question's timeout fires at most TICK late


class WireRcode(Exception):
    """The server answered with an rcode that is not an answer (SERVFAIL, REFUSED...)."""


class WireTimeout(Exception):
    """No server answered within the lifetime."""


class WireFailure(Exception):
    """Every server failed: `reasons` are what each said (an rcode's text) or how it failed."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(", ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True, slots=True)
class Reply:
    """What the audit reads of one answer (NOERROR or NXDOMAIN)."""

    nxdomain: bool
    recursion_available: bool
    chain: list[str]  # CNAME targets from the name asked, in order (none for a CNAME question)
    rdata: list[dns.rdata.Rdata]  # the records of the type asked at the chain's end
    ttl: int | None  # their TTL (the smallest), None without records
    negative_ttl: int | None  # RFC 2308: min(SOA TTL, SOA MINIMUM) from the authority section


def encode_name(name: str) -> bytes:
    """The wire form of a name given as text: plain labels directly, anything else (escapes,
    non-ASCII) through dnspython, which raises for names that cannot exist (label over 63
    octets, empty label, over 255 octets)."""
    text = name.rstrip(".") if name not in ("", ".") else ""
    if text and text.isascii() and "\\" not in text:
        raw = text.encode()
        labels = raw.split(b".")
        if all(0 < len(label) < 64 for label in labels) and len(raw) < 254:
            return b"".join(bytes((len(label),)) + label for label in labels) + b"\0"
    if not text:
        return b"\0"
    wire = dns.name.from_text(name).to_wire()  # raises for what cannot be a name
    assert wire is not None
    return wire


def _read_name(wire: bytes, offset: int) -> tuple[list[bytes], int]:
    """The labels of the (possibly compressed) name at `offset` and the offset after it."""
    labels: list[bytes] = []
    end = -1
    jumps = 0
    while True:
        length = wire[offset]
        if length == 0:
            offset += 1
            break
        if length & 0xC0 == 0xC0:
            if end < 0:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | wire[offset + 1]
            jumps += 1
            if jumps > 127:
                raise ValueError("compression loop")
            continue
        if length & 0xC0:
            raise ValueError("bad label type")
        labels.append(wire[offset + 1 : offset + 1 + length])
        offset += 1 + length
        if offset > len(wire):
            raise ValueError("name runs past the end")
    return labels, (end if end >= 0 else offset)


def _key(labels: list[bytes]) -> bytes:
    return b".".join(labels).lower()


def _text(labels: list[bytes]) -> str:
    """A name as `normalize_name` writes it (lower case, no trailing dot, dnspython escapes)."""
    if all(label and _SAFE.issuperset(label) for label in labels):
        return b".".join(labels).decode().lower()
    return dns.name.Name([*labels, b""]).to_text().rstrip(".").lower()


def parse_reply(wire: bytes, question_end: int, qkey: bytes, rdtype: int) -> Reply:
    """Read an answer whose header and question were already matched (`question_end` is the
    offset after the question): raises ValueError (or IndexError) for a malformed one."""
    flags = (wire[2] << 8) | wire[3]
    ancount, nscount = struct.unpack_from("!HH", wire, 6)
    offset = question_end
    records: list[tuple[bytes, int, int, int, int, int]] = []  # owner, type, class, ttl, at, len
    for _ in range(ancount):
        labels, offset = _read_name(wire, offset)
        rtype, rclass, rttl, length = struct.unpack_from("!HHIH", wire, offset)
        offset += 10
        if offset + length > len(wire):
            raise ValueError("record runs past the end")
        records.append((_key(labels), rtype, rclass, rttl, offset, length))
        offset += length
    chain: list[str] = []
    current = qkey
    if rdtype != CNAME:
        while len(chain) <= MAX_CNAME_CHAIN:
            hop = next((r for r in records if r[0] == current and r[1] == CNAME), None)
            if hop is None:
                break
            target, _ = _read_name(wire, hop[4])
            current = _key(target)
            chain.append(_text(target))
    rdata: list[dns.rdata.Rdata] = []
    seen: set[bytes] = set()
    ttl: int | None = None
    parser = dns.wire.Parser(wire)
    for owner, rtype, rclass, rttl, at, length in records:
        if owner != current or rtype != rdtype or rclass != IN:
            continue
        raw = wire[at : at + length]
        if raw in seen:
            continue
        seen.add(raw)
        parser.seek(at)
        with parser.restrict_to(length):
            rdata.append(
                dns.rdata.from_wire_parser(
                    dns.rdataclass.RdataClass(rclass), dns.rdatatype.RdataType(rtype), parser, None
                )
            )
        ttl = rttl if ttl is None else min(ttl, rttl)
    negative: int | None = None
    for _ in range(nscount if not rdata else 0):
        _, offset = _read_name(wire, offset)
        rtype, _, rttl, length = struct.unpack_from("!HHIH", wire, offset)
        offset += 10
        if rtype == SOA and length >= 22:
            (minimum,) = struct.unpack_from("!I", wire, offset + length - 4)
            negative = min(rttl, minimum)
            break
        offset += length
    return Reply(
        nxdomain=(flags & 0xF) == dns.rcode.NXDOMAIN,
        recursion_available=bool(flags & RA),
        chain=chain,
        rdata=rdata,
        ttl=ttl,
        negative_ttl=negative,
    )


class _Socket:
    """One UDP socket and the questions waiting on it: id -> (server, question, future)."""

    def __init__(self, family: int, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = weakref.ref(loop)  # a socket must not keep a finished loop alive
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        self.sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))
        self.waiting: dict[int, tuple[tuple[str, int], bytes, asyncio.Future[bytes]]] = {}
        self.sent = 0
        self.retired = False
        loop.add_reader(self.sock.fileno(), self.read)

    def read(self) -> None:
        """Every datagram queued on the socket, each to the question it answers."""
        while True:
            try:
                data, addr = self.sock.recvfrom(MAX_UDP)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. ICMP port unreachable surfacing on a later read
                return
            if len(data) < 12:
                continue
            entry = self.waiting.get((data[0] << 8) | data[1])
            if entry is None:
                continue
            server, question, future = entry
            if (addr[0], addr[1]) != server or future.done() or not data[2] & 0x80:
                continue
            if data[4:6] != b"\0\1" or data[12 : 12 + len(question)].lower() != question:
                continue
            future.set_result(data)

    def close(self) -> None:
        if self.sock.fileno() >= 0:
            loop = self.loop()
            if loop is not None and not loop.is_closed():
                loop.remove_reader(self.sock.fileno())
            self.sock.close()


class _Mux:
    """The sockets of one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = weakref.ref(loop)
        self.sockets: dict[int, list[_Socket]] = {}
        self.turn = 0
        self.retiring: list[_Socket] = []
        self.expiring: dict[int, list[tuple[_Socket, asyncio.Future[bytes]]]] = {}
        weakref.finalize(loop, _close_all, self.sockets, self.retiring)

    def pick(self, family: int) -> _Socket:
        group = self.sockets.get(family)
        if group is None:
            loop = asyncio.get_running_loop()
            group = self.sockets[family] = [_Socket(family, loop) for _ in range(SOCKETS)]
        for _ in range(len(group)):
            self.turn = (self.turn + 1) % len(group)
            if len(group[self.turn].waiting) < PER_SOCKET:
                break
        else:  # every socket is busy: one more (a burst's answers must not overflow buffers)
            group.append(_Socket(family, asyncio.get_running_loop()))
            self.turn = len(group) - 1
        chosen = group[self.turn]
        if chosen.sent >= ROTATE_AFTER:  # a fresh random source port; the old one drains
            chosen.retired = True
            self.retiring.append(chosen)
            self.settle(chosen)
            chosen = group[self.turn] = _Socket(family, asyncio.get_running_loop())
        return chosen

    def close(self) -> None:
        _close_all(self.sockets, self.retiring)

    def settle(self, sock: _Socket) -> None:
        if sock.retired and not sock.waiting:
            sock.close()
            self.retiring.remove(sock)

    async def exchange(self, server: tuple[str, int], family: int, question: bytes,
                       packet: bytes, timeout: float) -> bytes:  # fmt: skip
        """Send one question (`packet`, its id left zero) to `server` and wait up to `timeout`
        for its answer."""
        loop = asyncio.get_running_loop()
        sock = self.pick(family)
        qid = secrets.randbits(16)
        while qid in sock.waiting:
            qid = secrets.randbits(16)
        future: asyncio.Future[bytes] = loop.create_future()
        sock.waiting[qid] = (server, question, future)
        sock.sent += 1
        self.expire_after(loop, timeout, sock, future)
        try:
            packet = qid.to_bytes(2, "big") + packet[2:]
            try:
                sock.sock.sendto(packet, server)
            except (BlockingIOError, InterruptedError):
                await loop.sock_sendto(sock.sock, packet, server)
            return await future
        finally:
            if sock.waiting.get(qid, (None, None, None))[2] is future:
                del sock.waiting[qid]
            if sock.retired:
                self.settle(sock)

    def expire_after(self, loop: asyncio.AbstractEventLoop, timeout: float, sock: _Socket,
                     future: asyncio.Future[bytes]) -> None:  # fmt: skip
        """One timer per TICK for every question whose time ends in it (not one each)."""
        slot = math.ceil((loop.time() + timeout) / TICK)
        group = self.expiring.get(slot)
        if group is None:
            group = self.expiring[slot] = []
            loop.call_at(slot * TICK, self.expire, slot)
        group.append((sock, future))

    def expire(self, slot: int) -> None:
        """The questions whose time is up: first read what already arrived (a busy loop may
        not have got to it yet), then give up on the rest."""
        group = self.expiring.pop(slot, [])
        pending = [(sock, future) for sock, future in group if not future.done()]
        for sock in {id(sock): sock for sock, _ in pending}.values():
            sock.read()
        for _, future in pending:
            if not future.done():
                future.set_exception(TimeoutError())


def _close_all(sockets: dict[int, list[_Socket]], retiring: list[_Socket]) -> None:
    for group in sockets.values():
        for sock in group:
            sock.sock.close()
    for sock in retiring:
        sock.sock.close()


class UdpWire:
    """Plain questions to `servers` with dnspython's retry rules, over shared UDP sockets."""

    def __init__(
        self, servers: Sequence[tuple[str, int]], lifetime: float, attempt_timeout: float
    ) -> None:
        # as recvfrom reports the sender, so answers can be matched to the server asked
        self.servers = [(ipaddress.ip_address(host).compressed, port) for host, port in servers]
        self.lifetime = lifetime
        self.attempt_timeout = attempt_timeout
        self._muxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Mux] = (
            weakref.WeakKeyDictionary()
        )
        self._last: tuple[weakref.ref[asyncio.AbstractEventLoop], _Mux] | None = None

    def _mux(self) -> _Mux:
        loop = asyncio.get_running_loop()
        last = self._last
        if last is not None and last[0]() is loop:
            return last[1]
        mux = self._muxes.get(loop)
        if mux is None:
            for old, other in list(self._muxes.items()):  # loops that ended: their sockets go
                if old.is_closed():
                    other.close()
                    del self._muxes[old]
            mux = self._muxes[loop] = _Mux(loop)
        self._last = (weakref.ref(loop), mux)
        return mux

    def ask(self, name: str, rdtype: str) -> Awaitable[Reply]:
        """The answer to (name, type, IN); raises WireTimeout or WireFailure, or ValueError
        (from dnspython) for a name that cannot be put on the wire."""
        qname = encode_name(name)
        qtype = _type_code(rdtype)
        tail = qname + struct.pack("!HH", qtype, IN)
        qkey = _key(_read_name(qname, 0)[0])
        end = 12 + len(tail)
        packet = struct.pack("!HHHHHH", 0, RD, 1, 0, 0, 0) + tail
        return self._ask(tail, packet, lambda data: parse_reply(data, end, qkey, qtype))

    def ask_dnssec(self, name: str, rdtype: str) -> Awaitable[dns.message.Message]:
        """The whole answer to (name, type, IN) asked with the DO and CD bits (RRSIGs and
        NSEC/NSEC3 proofs included), parsed by dnspython; raises as `ask` does."""
        qname = encode_name(name)
        tail = qname + struct.pack("!HH", _type_code(rdtype), IN)
        packet = struct.pack("!HHHHHH", 0, RD | CD, 1, 0, 0, 1) + tail + OPT_DO
        return self._ask(tail, packet, _parse_message)

    async def _ask(self, tail: bytes, packet: bytes, parse: Callable[[bytes], R]) -> R:
        """`packet` (whose question is `tail`) to the servers with dnspython's retry rules, and
        the first answer `parse` accepts."""
        question = tail.lower()
        mux = self._mux()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lifetime
        alive = list(self.servers)
        errors: list[str] = []
        backoff = 0.1
        current: list[tuple[str, int]] = []
        first = True
        while True:
            if not current:
                if not alive:
                    raise WireFailure(errors)
                if not first:
                    await asyncio.sleep(min(backoff, max(0.0, deadline - loop.time())))
                    backoff = min(backoff * 2, 2.0)
                first = False
                current = list(alive)
            server = current.pop(0)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise WireTimeout(f"no answer from {_servers(self.servers)} in {self.lifetime:g} s")
            family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
            try:
                data = await mux.exchange(
                    server, family, question, packet, min(self.attempt_timeout, remaining)
                )
                if data[2] & (TC >> 8):
                    data = await _tcp(server, family, question, packet, deadline - loop.time())
            except TimeoutError:
                if "timed out" not in errors:
                    errors.append("timed out")
                continue
            except OSError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                alive.remove(server)
                continue
            rcode = data[3] & 0xF
            if rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                try:
                    return parse(data)
                except WireRcode as exc:
                    if str(exc) not in errors:
                        errors.append(str(exc))
                except (ValueError, IndexError, struct.error, dns.exception.DNSException) as exc:
                    errors.append(f"FormError: {exc}")
            else:
                reason = dns.rcode.to_text(dns.rcode.Rcode(rcode))
                if reason not in errors:
                    errors.append(reason)
            alive.remove(server)


@functools.lru_cache(maxsize=128)
def _type_code(rdtype: str) -> int:
    return int(dns.rdatatype.from_text(rdtype))


def _parse_message(data: bytes) -> dns.message.Message:
    """A whole DNSSEC answer; an extended rcode (from the OPT record) that is not an answer
    fails like a plain bad rcode."""
    message = dns.message.from_wire(data)
    rcode = message.rcode()
    if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        raise WireRcode(dns.rcode.to_text(rcode))
    return message


async def _tcp(server: tuple[str, int], family: int, question: bytes, packet: bytes,
               timeout: float) -> bytes:  # fmt: skip
    """The same question over TCP (after a truncated UDP answer), within `timeout`."""
    if timeout <= 0:
        raise TimeoutError()

    async def exchange() -> bytes:
        reader, writer = await asyncio.open_connection(server[0], server[1], family=family)
        try:
            qid = secrets.randbits(16)
            sent = qid.to_bytes(2, "big") + packet[2:]
            writer.write(struct.pack("!H", len(sent)) + sent)
            await writer.drain()
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                data = await reader.readexactly(length)
                if (
                    len(data) >= 12
                    and (data[0] << 8) | data[1] == qid
                    and data[2] & 0x80
                    and data[12 : 12 + len(question)].lower() == question
                ):
                    return data
        finally:
            writer.close()

    try:
        return await asyncio.wait_for(exchange(), timeout)
    except asyncio.IncompleteReadError as exc:
        raise OSError(errno.ECONNRESET, "connection closed mid-answer") from exc


def _servers(servers: list[tuple[str, int]]) -> str:
    return ", ".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in servers)
