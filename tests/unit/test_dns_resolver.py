"""The resolver layer (audit/net/dns.py) without a network: statuses, CNAMEs, wildcards, empty
non-terminals, the per-run cache, in-flight merging, the query log, zone directories, server
addresses, and NetworkBackend's handling of what a server answers (scripted responses)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset
import pytest

from audit.model import QueryRecord
from audit.net.dns import (
    MAX_CNAME_CHAIN,
    DnsAnswer,
    DnsStatus,
    NetworkBackend,
    Resolver,
    ServerAddress,
    StaticBackend,
    ZoneDirError,
    build_backend,
    build_resolver,
    load_zone_dir,
    memory_backend,
    normalize_name,
)


def ask(backend, name: str, rdtype: str) -> DnsAnswer:
    return asyncio.run(Resolver(backend).query(name, rdtype))


def bare(records) -> list[str]:
    """Record texts without a final dot: memory_backend prints names relative to the root."""
    return [r.rstrip(".") for r in records]


class Counting:
    """Wraps a backend and counts the questions that reach it; `gate` holds them back."""

    def __init__(self, inner, gate: asyncio.Event | None = None):
        self.inner, self.gate = inner, gate
        self.calls: list[tuple[str, str]] = []

    async def lookup(self, name: str, rdtype: str) -> DnsAnswer:
        self.calls.append((name, rdtype))
        if self.gate is not None:
            await self.gate.wait()
        return await self.inner.lookup(name, rdtype)


EXAMPLE = {
    "example.test": [
        ("TXT", '"v=spf1 -all"'),
        ("TXT", '"part one " "part two"'),
        ("MX", "10 mx.example.test."),
    ],
    "mx.example.test": [("A", "192.0.2.1")],
    "slow.example.test": [("TIMEOUT", "")],
    "broken.example.test": [("SERVFAIL", "")],
    "half.example.test": [("A", "192.0.2.2"), ("TIMEOUT", "TXT")],
    "www.example.test": [("CNAME", "mx.example.test.")],
    "two.example.test": [("CNAME", "www.example.test.")],
    "dangling.example.test": [("CNAME", "nowhere.example.test.")],
    "to-slow.example.test": [("CNAME", "slow.example.test.")],
    "loop-a.example.test": [("CNAME", "loop-b.example.test.")],
    "loop-b.example.test": [("CNAME", "loop-a.example.test.")],
    "sel._domainkey.example.test": [("TXT", '"v=DKIM1; p="')],
}


@pytest.fixture
def backend() -> StaticBackend:
    return memory_backend(EXAMPLE)


# ------------------------------------------------------------------ statuses


def test_noerror_with_records_and_joined_txt(backend):
    answer = ask(backend, "example.test", "TXT")
    assert answer.status is DnsStatus.NOERROR and answer.exists and not answer.temperror
    assert sorted(answer.txt) == ["part one part two", "v=spf1 -all"]
    assert sorted(answer.records) == ['"part one " "part two"', '"v=spf1 -all"']


def test_typed_rdata(backend):
    (mx,) = ask(backend, "example.test", "MX").rdata
    assert (mx.preference, normalize_name(mx.exchange.to_text())) == (10, "mx.example.test")


def test_nodata_is_an_existing_name_without_the_type(backend):
    answer = ask(backend, "example.test", "AAAA")
    assert answer.status is DnsStatus.NODATA
    assert answer.exists and not answer.temperror and answer.rdata == ()


def test_nxdomain(backend):
    answer = ask(backend, "nope.example.test", "TXT")
    assert answer.status is DnsStatus.NXDOMAIN
    assert not answer.exists and not answer.temperror


def test_timeout_and_servfail_are_temperrors_not_absence(backend):
    for name, status in [("slow.example.test", "TIMEOUT"), ("broken.example.test", "SERVFAIL")]:
        for rdtype in ("TXT", "A"):
            answer = ask(backend, name, rdtype)
            assert answer.status is DnsStatus(status)
            assert answer.temperror and not answer.exists and answer.rdata == ()
    assert ask(backend, "slow.example.test", "TXT").describe() == "slow.example.test TXT -> TIMEOUT"


def test_failure_for_one_type_only(backend):
    assert ask(backend, "half.example.test", "TXT").status is DnsStatus.TIMEOUT
    assert ask(backend, "half.example.test", "A").records == ["192.0.2.2"]


def test_names_are_normalized(backend):
    answer = ask(backend, "Example.TEST.", "txt")
    assert (answer.name, answer.rdtype, answer.status) == ("example.test", "TXT", DnsStatus.NOERROR)


def test_unrepresentable_names_do_not_exist(backend):
    assert ask(backend, "a" * 64 + ".example.test", "A").status is DnsStatus.NXDOMAIN
    assert ask(backend, "x." * 130 + "test", "A").status is DnsStatus.NXDOMAIN


# ------------------------------------------------------------------ CNAMEs


def test_cname_is_chased(backend):
    answer = ask(backend, "two.example.test", "A")
    assert answer.status is DnsStatus.NOERROR and answer.records == ["192.0.2.1"]
    assert answer.cname_chain == ("www.example.test", "mx.example.test")
    assert answer.canonical_name == "mx.example.test"


def test_cname_question_is_answered_not_chased(backend):
    answer = ask(backend, "www.example.test", "CNAME")
    assert bare(answer.records) == ["mx.example.test"] and answer.cname_chain == ()


def test_cname_to_a_name_without_the_type_is_nodata(backend):
    answer = ask(backend, "www.example.test", "TXT")
    assert answer.status is DnsStatus.NODATA and answer.cname_chain == ("mx.example.test",)


def test_cname_to_nothing_is_nxdomain_with_the_chain(backend):
    answer = ask(backend, "dangling.example.test", "A")
    assert answer.status is DnsStatus.NXDOMAIN
    assert answer.cname_chain == ("nowhere.example.test",)


def test_failure_at_the_target_is_the_answer(backend):
    answer = ask(backend, "to-slow.example.test", "TXT")
    assert answer.status is DnsStatus.TIMEOUT and answer.cname_chain == ("slow.example.test",)


def test_cname_loop_is_servfail(backend):
    answer = ask(backend, "loop-a.example.test", "A")
    assert answer.status is DnsStatus.SERVFAIL and answer.error == "CNAME chain too long"


def _chain(length: int) -> dict[str, list[tuple[str, str]]]:
    """hop0 -> hop1 -> ... -> hop<length> (which has the A record)."""
    records = {f"hop{i}.chain.test": [("CNAME", f"hop{i + 1}.chain.test.")] for i in range(length)}
    records[f"hop{length}.chain.test"] = [("A", "192.0.2.3")]
    return records


def test_cname_chain_limit():
    longest = ask(memory_backend(_chain(MAX_CNAME_CHAIN)), "hop0.chain.test", "A")
    assert longest.records == ["192.0.2.3"] and len(longest.cname_chain) == MAX_CNAME_CHAIN
    too_long = ask(memory_backend(_chain(MAX_CNAME_CHAIN + 1)), "hop0.chain.test", "A")
    assert too_long.status is DnsStatus.SERVFAIL and too_long.error == "CNAME chain too long"


# ------------------------------------------------------------------ zone files


def zone(origin: str, body: str, origin_line: bool = True) -> str:
    head = f"$ORIGIN {origin}.\n" if origin_line else ""
    return (
        f"{head}$TTL 300\n@ SOA ns1.{origin}. hostmaster.{origin}. 1 3600 600 86400 300\n"
        f"@ NS ns1\nns1 A 127.0.0.1\n{body}"
    )


WILD = """\
*            TXT   "wildcard"
exists       MX    10 ns1
a.blocker    A     192.0.2.91
*.alias      CNAME exists
leaf.middle.top A  192.0.2.100
"""


@pytest.fixture
def zone_dir(tmp_path: Path) -> Path:
    (tmp_path / "wild.test.zone").write_text(zone("wild.test", WILD))
    (tmp_path / "other.test.zone").write_text(
        zone("other.test", "far CNAME exists.wild.test.\n", origin_line=False)
    )
    (tmp_path / "README.txt").write_text("not a zone")
    return tmp_path


@pytest.fixture
def files(zone_dir: Path) -> StaticBackend:
    return StaticBackend(load_zone_dir(zone_dir))


def test_zone_dir_loads_every_zone_file(zone_dir):
    data = load_zone_dir(zone_dir)
    assert data.apexes == {"wild.test", "other.test"}  # origin from $ORIGIN or the file name
    assert "far.other.test" in data.nodes


def test_wildcard_answers_for_names_that_do_not_exist(files):
    assert ask(files, "anything.wild.test", "TXT").txt == ["wildcard"]
    assert ask(files, "two.labels.wild.test", "TXT").txt == ["wildcard"]
    assert ask(files, "anything.wild.test", "A").status is DnsStatus.NODATA


def test_existing_names_block_the_wildcard(files):
    assert ask(files, "exists.wild.test", "TXT").status is DnsStatus.NODATA
    # The closest encloser is the empty non-terminal "blocker", which has no wildcard.
    assert ask(files, "other.blocker.wild.test", "TXT").status is DnsStatus.NXDOMAIN


def test_wildcard_cname(files):
    answer = ask(files, "x.alias.wild.test", "MX")
    assert answer.records == ["10 ns1.wild.test."]
    assert answer.cname_chain == ("exists.wild.test",)


def test_empty_non_terminals_are_nodata(files):
    for name in ("middle.top.wild.test", "top.wild.test", "blocker.wild.test"):
        assert ask(files, name, "TXT").status is DnsStatus.NODATA, name
    assert ask(files, "nope.top.wild.test", "TXT").status is DnsStatus.NXDOMAIN


def test_cross_zone_cname(files):
    answer = ask(files, "far.other.test", "MX")
    assert answer.records == ["10 ns1.wild.test."] and answer.cname_chain == ("exists.wild.test",)


def test_names_outside_every_zone_do_not_exist(files):
    assert ask(files, "example.invalid", "A").status is DnsStatus.NXDOMAIN
    assert ask(files, "test", "SOA").status is DnsStatus.NXDOMAIN


def test_missing_zone_dir(tmp_path):
    with pytest.raises(ZoneDirError, match="does not exist") as failure:
        load_zone_dir(tmp_path / "absent")
    assert "\n" not in str(failure.value)


def test_zone_dir_that_is_a_file(tmp_path):
    path = tmp_path / "file.zone"
    path.write_text(zone("file.test", ""))
    with pytest.raises(ZoneDirError, match="not a directory"):
        load_zone_dir(path)


def test_zone_dir_without_zones(tmp_path):
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(ZoneDirError, match=r"no \*\.zone files"):
        load_zone_dir(tmp_path)


@pytest.mark.parametrize(
    "body",
    [
        "www A 999.0.0.1\n",
        "www BOGUSTYPE x\n",
        'www TXT "unterminated\n',
        "$INCLUDE /nonexistent\n",
    ],
)
def test_zone_that_does_not_parse(tmp_path, body):
    (tmp_path / "good.test.zone").write_text(zone("good.test", ""))
    bad = tmp_path / "bad.test.zone"
    bad.write_text(zone("bad.test", body))
    with pytest.raises(ZoneDirError) as failure:
        load_zone_dir(tmp_path)
    message = str(failure.value)
    assert str(bad) in message and "\n" not in message
    assert isinstance(failure.value, ValueError)  # the CLI's "bad input" path


def test_build_backend_picks_zone_files_or_network(zone_dir):
    assert isinstance(build_backend(zone_dir=zone_dir), StaticBackend)
    assert isinstance(build_backend(["127.0.0.1:5353"]), NetworkBackend)
    with pytest.raises(ValueError, match="IP address"):
        build_resolver(["dns.example.test"])
    with pytest.raises(ZoneDirError):
        build_resolver(zone_dir=zone_dir / "absent")


# ------------------------------------------------------------------ cache, merging, log


def test_second_query_is_answered_from_the_cache(backend):
    counting = Counting(backend)
    resolver = Resolver(counting)

    async def run():
        first = await resolver.query("example.test", "TXT")
        again = await resolver.query("EXAMPLE.test.", "txt")
        return first, again

    first, again = asyncio.run(run())
    assert again is first
    assert counting.calls == [("example.test", "TXT")]
    assert len(resolver.log) == 1


def test_the_cache_belongs_to_one_resolver(backend):
    counting = Counting(backend)
    ask(counting, "example.test", "TXT")
    ask(counting, "example.test", "TXT")
    assert len(counting.calls) == 2


def test_temperrors_are_cached_for_the_run_too(backend):
    counting = Counting(backend)
    resolver = Resolver(counting)

    async def run():
        return [await resolver.query("slow.example.test", "TXT") for _ in range(3)]

    answers = asyncio.run(run())
    assert {a.status for a in answers} == {DnsStatus.TIMEOUT}
    assert len(counting.calls) == 1


def test_identical_queries_in_flight_are_merged(backend):
    async def run():
        gate = asyncio.Event()
        counting = Counting(backend, gate)
        resolver = Resolver(counting)
        tasks = [asyncio.ensure_future(resolver.query("example.test", "MX")) for _ in range(2)]
        tasks.append(asyncio.ensure_future(resolver.query("example.test", "A")))
        await asyncio.sleep(0.01)
        pending = list(counting.calls)
        gate.set()
        answers = await asyncio.gather(*tasks)
        return pending, counting.calls, answers, resolver.log

    pending, calls, (mx1, mx2, a), log = asyncio.run(run())
    assert sorted(pending) == [("example.test", "A"), ("example.test", "MX")]
    assert len(calls) == 2 and mx1 is mx2
    assert a.status is DnsStatus.NODATA
    assert len(log) == 2


def test_a_cancelled_waiter_does_not_cancel_the_shared_question(backend):
    async def run():
        gate = asyncio.Event()
        resolver = Resolver(Counting(backend, gate))
        first = asyncio.ensure_future(resolver.query("example.test", "MX"))
        second = asyncio.ensure_future(resolver.query("example.test", "MX"))
        await asyncio.sleep(0.01)
        first.cancel()
        gate.set()
        return await second

    assert asyncio.run(run()).status is DnsStatus.NOERROR


def test_query_log_records_what_was_asked(backend):
    resolver = Resolver(backend)

    async def run():
        await asyncio.gather(
            resolver.query("example.test", "MX"),
            resolver.query("slow.example.test", "TXT"),
            resolver.query("nope.example.test", "A"),
            resolver.query("two.example.test", "A"),
        )

    asyncio.run(run())
    log = {(q.name, q.rdtype): q for q in resolver.log}
    assert set(log) == {
        ("example.test", "MX"),
        ("slow.example.test", "TXT"),
        ("nope.example.test", "A"),
        ("two.example.test", "A"),
    }
    assert all(isinstance(q, QueryRecord) and q.elapsed_ms >= 0 for q in resolver.log)
    mx = log["example.test", "MX"]
    assert (mx.status, bare(mx.answers)) == ("NOERROR", ["10 mx.example.test"])
    assert (log["slow.example.test", "TXT"].status, log["slow.example.test", "TXT"].answers) == (
        "TIMEOUT",
        (),
    )
    assert log["nope.example.test", "A"].status == "NXDOMAIN"
    assert log["two.example.test", "A"].answers == ("192.0.2.1",)
    assert log["example.test", "MX"].to_dict()["type"] == "MX"


def test_a_crashing_backend_reads_as_servfail_not_absent():
    class Crashing:
        async def lookup(self, name: str, rdtype: str) -> DnsAnswer:
            raise RuntimeError("bug")

    resolver = Resolver(Crashing())
    answer = asyncio.run(resolver.query("example.test", "TXT"))
    assert answer.status is DnsStatus.SERVFAIL and answer.error == "RuntimeError"
    assert [(q.status, q.error) for q in resolver.log] == [("SERVFAIL", "RuntimeError")]


def test_helpers_ask_through_the_cache(backend):
    resolver = Resolver(Counting(backend))

    async def run():
        a, aaaa = await resolver.addresses("mx.example.test")
        txt = await resolver.txt("example.test")
        ptr = await resolver.ptr("192.0.2.1")
        return a, aaaa, txt, ptr

    a, aaaa, txt, ptr = asyncio.run(run())
    assert a.records == ["192.0.2.1"] and aaaa.status is DnsStatus.NODATA
    assert txt.rdtype == "TXT"
    assert (ptr.name, ptr.rdtype) == ("1.2.0.192.in-addr.arpa", "PTR")


# ------------------------------------------------------------------ server addresses


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("192.0.2.53", "192.0.2.53", 53),
        ("127.0.0.1:5353", "127.0.0.1", 5353),
        (" 127.0.0.1:5353 ", "127.0.0.1", 5353),
        ("[::1]:5353", "::1", 5353),
        ("[2001:db8::53]", "2001:db8::53", 53),
        ("2001:db8::53", "2001:db8::53", 53),
        ("::1", "::1", 53),
    ],
)
def test_server_address_parse(text, host, port):
    assert ServerAddress.parse(text) == ServerAddress(host, port)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("127.0.0.1:dns", "invalid DNS server port"),
        ("127.0.0.1:0", "out of range"),
        ("127.0.0.1:65536", "out of range"),
        ("[::1]:x", "invalid DNS server port"),
        ("localhost", "must be an IP address"),
        ("dns.example.test:53", "must be an IP address"),
        ("300.1.1.1", "must be an IP address"),
    ],
)
def test_server_address_rejects(text, problem):
    with pytest.raises(ValueError, match=problem):
        ServerAddress.parse(text)


# ------------------------------------------------------------------ NetworkBackend, scripted


def _response(
    qname: str,
    rdtype: str,
    answer: list[tuple[str, str, str]] = (),
    rcode: int = dns.rcode.NOERROR,
    recursive: bool = False,
) -> dns.message.QueryMessage:
    query = dns.message.make_query(qname, rdtype)
    response = dns.message.make_response(query, recursion_available=recursive)
    response.set_rcode(rcode)
    for owner, kind, text in answer:
        response.answer.append(dns.rrset.from_text(owner + ".", 300, "IN", kind, text))
    return dns.message.from_wire(response.to_wire())  # as received: indexed, names absolute


class ScriptedServer:
    """Stands in for dnspython's resolver: answers from scripted responses, raising what
    dnspython raises for NXDOMAIN, a bad rcode or a timeout."""

    def __init__(self, script: dict[tuple[str, str], object]):
        self.script = script
        self.asked: list[tuple[str, str]] = []

    async def resolve(self, qname, rdtype, search=False, raise_on_no_answer=True):
        key = (qname.to_text().rstrip("."), str(rdtype))
        self.asked.append(key)
        response = self.script.get(key)
        if response is None:
            response = _response(key[0], key[1], rcode=dns.rcode.REFUSED)
        if isinstance(response, Exception):
            raise response
        rcode = response.rcode()
        if rcode == dns.rcode.NXDOMAIN:
            raise dns.resolver.NXDOMAIN(qnames=[qname], responses={qname: response})
        errors = [("127.0.0.1", False, 53, dns.rcode.to_text(rcode), response)]
        if rcode != dns.rcode.NOERROR:
            raise dns.resolver.NoNameservers(request=response, errors=errors)
        try:
            return dns.resolver.Answer(
                qname, dns.rdatatype.from_text(rdtype), dns.rdataclass.IN, response
            )
        except dns.message.ChainTooLong as exc:
            errors = [("127.0.0.1", False, 53, exc, response)]
            raise dns.resolver.NoNameservers(request=response, errors=errors) from None


def network(script: dict) -> tuple[NetworkBackend, ScriptedServer]:
    backend = NetworkBackend([ServerAddress("127.0.0.1", 53)], timeout=1)
    server = ScriptedServer(script)
    backend._resolver = server  # the one seam: what "the server" answers
    return backend, server


def lookup(backend: NetworkBackend, name: str, rdtype: str) -> DnsAnswer:
    return asyncio.run(backend.lookup(name, rdtype))


def test_network_statuses():
    backend, _ = network(
        {
            ("a.test", "A"): _response("a.test", "A", [("a.test", "A", "192.0.2.1")]),
            ("a.test", "MX"): _response("a.test", "MX"),
            ("b.test", "A"): _response("b.test", "A", rcode=dns.rcode.NXDOMAIN),
            ("c.test", "A"): _response("c.test", "A", rcode=dns.rcode.SERVFAIL),
            ("d.test", "A"): dns.resolver.LifetimeTimeout(timeout=1.0, errors=[]),
        }
    )
    assert lookup(backend, "a.test", "A").records == ["192.0.2.1"]
    assert lookup(backend, "a.test", "MX").status is DnsStatus.NODATA
    assert lookup(backend, "b.test", "A").status is DnsStatus.NXDOMAIN
    servfail = lookup(backend, "c.test", "A")
    assert (servfail.status, servfail.error) == (DnsStatus.SERVFAIL, "SERVFAIL")
    assert lookup(backend, "d.test", "A").status is DnsStatus.TIMEOUT


@pytest.mark.parametrize("recursive", [False, True])
def test_refused_is_unknown_whatever_the_ra_bit(recursive):
    # An authoritative-only server (no RA) refuses names outside its zones, a resolver refuses
    # clients it does not serve, a filter refuses what it blocks: none of it says "no record".
    refused = _response("elsewhere.test", "A", rcode=dns.rcode.REFUSED, recursive=recursive)
    backend, _ = network({("elsewhere.test", "A"): refused})
    answer = lookup(backend, "elsewhere.test", "A")
    assert (answer.status, answer.error) == (DnsStatus.SERVFAIL, "REFUSED")
    assert answer.temperror and answer.refused and not answer.exists
    assert answer.describe() == "elsewhere.test A -> SERVFAIL (REFUSED)"


def test_servfail_and_timeout_are_not_refused():
    backend, _ = network(
        {
            ("c.test", "A"): _response("c.test", "A", rcode=dns.rcode.SERVFAIL),
            ("d.test", "A"): dns.resolver.LifetimeTimeout(timeout=1.0, errors=[]),
        }
    )
    assert not lookup(backend, "c.test", "A").refused
    assert not lookup(backend, "d.test", "A").refused


def test_refused_dnssec_question_is_unknown():
    backend, _ = network({})
    backend._do_resolver = ScriptedServer({})  # refuses everything, without RA
    answer = asyncio.run(backend.lookup_dnssec("elsewhere.test", "DS"))
    assert (answer.status, answer.error) == (DnsStatus.SERVFAIL, "REFUSED")
    assert answer.temperror and answer.refused


def test_incomplete_chain_from_an_authoritative_server_is_chased():
    backend, server = network(
        {
            ("x.one.test", "A"): _response(
                "x.one.test", "A", [("x.one.test", "CNAME", "y.two.test.")]
            ),
            ("y.two.test", "A"): _response("y.two.test", "A", [("y.two.test", "A", "192.0.2.7")]),
        }
    )
    answer = lookup(backend, "x.one.test", "A")
    assert answer.status is DnsStatus.NOERROR and answer.records == ["192.0.2.7"]
    assert answer.cname_chain == ("y.two.test",)
    assert server.asked == [("x.one.test", "A"), ("y.two.test", "A")]


def test_chain_ending_in_nodata_from_a_recursive_resolver_is_trusted():
    backend, server = network(
        {
            ("x.one.test", "MX"): _response(
                "x.one.test", "MX", [("x.one.test", "CNAME", "y.two.test.")], recursive=True
            )
        }
    )
    answer = lookup(backend, "x.one.test", "MX")
    assert answer.status is DnsStatus.NODATA and answer.cname_chain == ("y.two.test",)
    assert server.asked == [("x.one.test", "MX")]


def test_nxdomain_through_a_chain_keeps_every_hop():
    response = _response(
        "a.test",
        "A",
        [("a.test", "CNAME", "b.test."), ("b.test", "CNAME", "c.test.")],
        rcode=dns.rcode.NXDOMAIN,
    )
    backend, _ = network({("a.test", "A"): response})
    answer = lookup(backend, "a.test", "A")
    assert answer.status is DnsStatus.NXDOMAIN and answer.cname_chain == ("b.test", "c.test")


def test_cname_question_has_no_chain():
    backend, _ = network(
        {("a.test", "CNAME"): _response("a.test", "CNAME", [("a.test", "CNAME", "b.test.")])}
    )
    answer = lookup(backend, "a.test", "CNAME")
    assert answer.records == ["b.test."] and answer.cname_chain == ()


def test_cross_zone_loop_ends_as_servfail():
    backend, server = network(
        {
            ("a.one.test", "A"): _response(
                "a.one.test", "A", [("a.one.test", "CNAME", "a.two.test.")]
            ),
            ("a.two.test", "A"): _response(
                "a.two.test", "A", [("a.two.test", "CNAME", "a.one.test.")]
            ),
        }
    )
    answer = lookup(backend, "a.one.test", "A")
    assert (answer.status, answer.error) == (DnsStatus.SERVFAIL, "CNAME chain too long")
    assert len(answer.cname_chain) == MAX_CNAME_CHAIN + 1
    assert len(server.asked) == MAX_CNAME_CHAIN + 1  # bounded


def test_loop_inside_one_answer_ends_as_servfail():
    response = _response(
        "a.test",
        "A",
        [("a.test", "CNAME", "b.test."), ("b.test", "CNAME", "a.test.")],
        recursive=True,
    )
    backend, _ = network({("a.test", "A"): response})
    answer = lookup(backend, "a.test", "A")
    assert (answer.status, answer.error) == (DnsStatus.SERVFAIL, "CNAME chain too long")


def test_unrepresentable_name_is_nxdomain_without_asking():
    backend, server = network({})
    assert lookup(backend, "a" * 64 + ".test", "A").status is DnsStatus.NXDOMAIN
    assert server.asked == []


def test_a_failure_shows_its_reason_in_the_evidence() -> None:
    from audit.net.dns import DnsAnswer, DnsStatus

    answer = DnsAnswer("x.test", "TXT", DnsStatus.SERVFAIL, error="REFUSED")
    assert answer.describe() == "x.test TXT -> SERVFAIL (REFUSED)"
    assert DnsAnswer("x.test", "TXT", DnsStatus.NXDOMAIN).describe() == "x.test TXT -> NXDOMAIN"


def test_record_texts_are_dnspythons_also_on_the_fast_path():
    """TXT records of plain characters are written directly; anything to escape (quotes,
    backslashes, control or non-ASCII octets) still goes through dnspython: the same text."""
    texts = ['"v=spf1 -all"', '"a" "b c"', r'"x\"y"', r'"a\\b"', '"\\200abc"', '""',
             '"tab\\009x"', '"v=DKIM1; k=rsa; p=MIIB" "IjAN"']  # fmt: skip
    rdata = [dns.rdata.from_text("IN", "TXT", t) for t in texts]
    rdata.append(dns.rdata.from_text("IN", "MX", "10 mx.example.test."))
    answer = DnsAnswer("example.test", "TXT", DnsStatus.NOERROR, tuple(rdata))
    assert answer.records == [r.to_text() for r in rdata]
    assert answer.records[2] == r'"x\"y"' and answer.records[4] == '"\\200abc"'


def test_the_mx_facts_are_gathered_once_per_audit_however_many_checks_ask(backend):
    from audit.facts.mx import gather_mx

    counting = Counting(backend)
    resolver = Resolver(counting)

    async def run():
        names = ("example.test", "Example.Test.", "example.test")
        return await asyncio.gather(*(gather_mx(resolver, d) for d in names))

    first, second, third = asyncio.run(run())
    assert first is second is third  # one MxFacts, shared read-only
    assert [h.host for h in first.hosts] == ["mx.example.test"]
    assert first.hosts[0].addresses == ["192.0.2.1"]
    assert counting.calls.count(("example.test", "MX")) == 1
    assert counting.calls.count(("mx.example.test", "A")) == 1
    other = asyncio.run(gather_mx(Resolver(counting), "example.test"))  # another audit: its own
    assert other is not first and counting.calls.count(("example.test", "MX")) == 2
