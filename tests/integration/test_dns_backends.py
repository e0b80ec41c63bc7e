"""The two sources of DNS answers agree: Knot DNS on loopback (NetworkBackend) and the zone files
read offline (StaticBackend over load_zone_dir), question by question, for every fixture zone.

The issue requires the same findings from --dns-server and --zone-dir; this is the layer below:
the same status, the same records and the same CNAME chain for each (name, type). Plus the
loopback infrastructure itself: a dropped query is a TIMEOUT within its timeout, the delaying
proxy delays, a zone Knot rejects stops the session naming the file, Knot stops cleanly.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import dns.name
import dns.rdatatype
import dns.zone
import pytest

from audit.net.dns import (
    MAX_CNAME_CHAIN,
    DnsAnswer,
    DnsStatus,
    NetworkBackend,
    Resolver,
    ServerAddress,
    StaticBackend,
    StaticData,
)
from tests.conftest import ZONES
from tests.infra.netutil import ipv6_loopback, port_is_free
from tests.infra.servers import KnotServer, ServerError, wait_gone

ZONE_FILES = sorted(ZONES.glob("*.zone"))
APEX_TYPES = ("SOA", "NS", "TXT", "MX", "A", "AAAA")
ALIAS_TYPES = ("A", "AAAA", "TXT", "MX", "CNAME")  # asked of every CNAME owner: chase or not
NONEXISTENT = "no-such-name-for-audit-tests"

Question = tuple[str, str]


def _text(name: dns.name.Name) -> str:
    return name.to_text().rstrip(".").lower()


def questions_for(zone_file: Path) -> list[Question]:
    """The fixed set of questions for one zone file.

    The apex's SOA/NS/TXT/MX/A/AAAA, `_dmarc` TXT, every owner name for each of its types,
    CNAME owners for other types too (chasing), every empty non-terminal, names a wildcard
    answers for, and a name that does not exist inside the zone.
    """
    origin = zone_file.name[: -len(".zone")] + "."
    zone = dns.zone.from_text(
        zone_file.read_text(), origin=origin, relativize=False, check_origin=False
    )
    apex = _text(zone.origin)
    asked: list[Question] = [(apex, t) for t in APEX_TYPES]
    asked += [(f"_dmarc.{apex}", "TXT"), (f"{NONEXISTENT}.{apex}", "A")]
    asked += [(f"{NONEXISTENT}.{apex}", "TXT")]
    owners = {_text(name) for name in zone.nodes}
    for name, node in zone.nodes.items():
        owner = _text(name)
        types = {dns.rdatatype.to_text(rds.rdtype) for rds in node.rdatasets}
        if "CNAME" in types:
            types |= set(ALIAS_TYPES)
        asked += [(owner, t) for t in sorted(types)]
        if owner.startswith("*."):
            parent = owner[2:]
            for stand_in in (f"matched-by-wildcard.{parent}", f"two.labels.{parent}"):
                asked += [(stand_in, t) for t in sorted(types | {"A", "TXT"})]
        # Empty non-terminals between the owner and the apex.
        labels = owner.split(".")
        for i in range(1, len(labels)):
            ancestor = ".".join(labels[i:])
            if not ancestor.endswith("." + apex):
                break
            if ancestor not in owners:
                asked += [(ancestor, "TXT"), (ancestor, "A")]
    return sorted(set(asked))


def signature(answer: DnsAnswer) -> tuple:
    """What both backends must agree on."""
    return (answer.status, sorted(answer.records), answer.cname_chain)


@pytest.fixture(scope="module")
def network(knot_server) -> NetworkBackend:
    return NetworkBackend([ServerAddress(knot_server.host, knot_server.port)], timeout=3)


@pytest.fixture(scope="module")
def both_answers(network, zone_data: StaticData) -> dict[str, list[tuple[Question, tuple, tuple]]]:
    """zone file name -> [(question, network signature, zone-dir signature)]."""
    offline = StaticBackend(zone_data)
    limit = asyncio.Semaphore(32)

    async def ask(question: Question) -> tuple[Question, tuple, tuple]:
        async with limit:
            over_network = await network.lookup(*question)
        from_files = await offline.lookup(*question)
        return question, signature(over_network), signature(from_files)

    async def ask_all():
        per_file = {f.name: questions_for(f) for f in ZONE_FILES}
        flat = [q for qs in per_file.values() for q in qs]
        answers = dict(zip(flat, await asyncio.gather(*(ask(q) for q in flat)), strict=True))
        return {name: [answers[q] for q in qs] for name, qs in per_file.items()}

    return asyncio.run(ask_all())


@pytest.mark.parametrize("zone_file", [f.name for f in ZONE_FILES])
def test_knot_and_zone_files_give_the_same_answers(both_answers, zone_file):
    differ = [
        f"{name} {rdtype}: Knot {net} / zone files {files}"
        for (name, rdtype), net, files in both_answers[zone_file]
        if net != files
    ]
    assert not differ, "\n".join(differ)


def test_every_status_is_covered(both_answers):
    """The comparison is not vacuous: it meets every status a zone can give."""
    seen = {net[0] for rows in both_answers.values() for _, net, _ in rows}
    assert {DnsStatus.NOERROR, DnsStatus.NODATA, DnsStatus.NXDOMAIN, DnsStatus.SERVFAIL} <= seen


# ------------------------------------------------------------------ DNS behaviour, over Knot

CNAME_ZONE = "dnsbehaviour-cname.test"
OTHER_ZONE = "dnsbehaviour-other.test"
WILD_ZONE = "dnsbehaviour-wildcard.test"
ENT_ZONE = "dnsbehaviour-ent.test"


def lookup(backend: NetworkBackend, name: str, rdtype: str) -> DnsAnswer:
    return asyncio.run(backend.lookup(name, rdtype))


def test_cross_zone_cname_is_chased(network):
    answer = lookup(network, f"cross.{CNAME_ZONE}", "A")
    assert answer.status is DnsStatus.NOERROR
    assert answer.records == ["192.0.2.81"]
    assert answer.cname_chain == (f"target.{OTHER_ZONE}",)


def test_chain_there_and_back(network):
    answer = lookup(network, f"pingpong.{CNAME_ZONE}", "TXT")
    assert answer.txt == ["host text"]
    assert answer.cname_chain == (f"bounce.{OTHER_ZONE}", f"host.{CNAME_ZONE}")


def test_cross_zone_cname_to_nothing_is_nxdomain(network):
    answer = lookup(network, f"dangling.{CNAME_ZONE}", "A")
    assert answer.status is DnsStatus.NXDOMAIN
    assert answer.cname_chain == (f"missing.{OTHER_ZONE}",)


def test_in_zone_chain_to_nothing_keeps_every_hop(network):
    answer = lookup(network, f"nx2.{CNAME_ZONE}", "A")
    assert answer.status is DnsStatus.NXDOMAIN
    assert answer.cname_chain == (f"nx1.{CNAME_ZONE}", f"nothing-here.{CNAME_ZONE}")


def test_cname_to_a_name_without_the_type_is_nodata(network):
    answer = lookup(network, f"local2.{CNAME_ZONE}", "MX")
    assert answer.status is DnsStatus.NODATA
    assert answer.cname_chain == (f"local.{CNAME_ZONE}", f"host.{CNAME_ZONE}")


def test_a_cname_question_is_answered_not_chased(network):
    answer = lookup(network, f"cross.{CNAME_ZONE}", "CNAME")
    assert answer.records == [f"target.{OTHER_ZONE}."]
    assert answer.cname_chain == ()


def test_chain_length_limit(network):
    """Knot itself stops after 5 hops; the chase goes on to MAX_CNAME_CHAIN, no further."""
    longest = lookup(network, f"long1.{CNAME_ZONE}", "A")
    assert longest.status is DnsStatus.NOERROR and longest.records == ["192.0.2.80"]
    assert len(longest.cname_chain) == MAX_CNAME_CHAIN
    too_long = lookup(network, f"toolong0.{CNAME_ZONE}", "A")
    assert too_long.status is DnsStatus.SERVFAIL
    assert too_long.error == "CNAME chain too long"


def test_cname_loop_is_a_server_failure(network):
    answer = lookup(network, f"loop.{CNAME_ZONE}", "A")
    assert answer.status is DnsStatus.SERVFAIL and answer.temperror
    assert answer.error == "CNAME chain too long"


def test_wildcards(network):
    synthesized = lookup(network, f"anything.{WILD_ZONE}", "TXT")
    assert synthesized.txt == ["wildcard at the apex"]
    deep = lookup(network, f"x.y.{WILD_ZONE}", "A")
    assert deep.records == ["192.0.2.90"]
    # An existing name is not covered by the wildcard: NODATA, not the wildcard's TXT.
    assert lookup(network, f"exists.{WILD_ZONE}", "TXT").status is DnsStatus.NODATA
    # The closest encloser "blocker" exists (an empty non-terminal) and has no wildcard.
    assert lookup(network, f"other.blocker.{WILD_ZONE}", "A").status is DnsStatus.NXDOMAIN
    alias = lookup(network, f"some.alias.{WILD_ZONE}", "MX")
    assert alias.records == [f"10 ns1.{WILD_ZONE}."]
    assert alias.cname_chain == (f"exists.{WILD_ZONE}",)


def test_empty_non_terminals_are_nodata(network):
    for name in (f"middle.top.{ENT_ZONE}", f"top.{ENT_ZONE}", f"_domainkey.{ENT_ZONE}"):
        assert lookup(network, name, "TXT").status is DnsStatus.NODATA, name
    assert lookup(network, f"nope.top.{ENT_ZONE}", "TXT").status is DnsStatus.NXDOMAIN


def test_a_name_outside_every_zone_is_refused_by_knot_and_absent_offline(network, zone_data):
    """Knot refuses what it is not authoritative for: unknown (a temperror), never NXDOMAIN.
    Zone files have no such state: a name outside all of them does not exist (--zone-dir)."""
    answer = lookup(network, "nothing.invalid", "A")
    assert (answer.status, answer.error) == (DnsStatus.SERVFAIL, "REFUSED")
    assert answer.temperror and answer.refused
    offline = asyncio.run(StaticBackend(zone_data).lookup("nothing.invalid", "A"))
    assert offline.status is DnsStatus.NXDOMAIN


def test_names_under_a_served_top_level_domain_do_not_exist(network, zone_data):
    """start_knot.sh serves each TLD of the scenario zones as an empty parent: a name under it
    outside every scenario is NXDOMAIN from Knot, as from the real DNS and from --zone-dir."""
    for name in ("_dmarc.test", "no-such-scenario.test", "example.com", "x.zen.spamhaus.org"):
        answer = lookup(network, name, "TXT")
        assert answer.status is DnsStatus.NXDOMAIN, (name, answer.error)
    # the parent shadows nothing: the scenario zone under it still answers
    assert lookup(network, "clean.test", "MX").records


def test_resolver_over_knot_logs_what_it_asked(knot_server):
    resolver = Resolver(
        NetworkBackend([ServerAddress(knot_server.host, knot_server.port)], timeout=3)
    )

    async def ask():
        return await asyncio.gather(
            resolver.query("clean.test", "MX"), resolver.query("CLEAN.test.", "mx")
        )

    first, second = asyncio.run(ask())
    assert first is second  # one question, merged
    assert [(q.name, q.rdtype, q.status) for q in resolver.log] == [("clean.test", "MX", "NOERROR")]


# ------------------------------------------------------------------ the loopback infrastructure


def test_dropped_query_is_a_timeout_not_nxdomain(drop_proxy):
    backend = NetworkBackend([ServerAddress(drop_proxy.host, drop_proxy.port)], timeout=1)
    start = time.monotonic()
    answer = lookup(backend, "clean.test", "TXT")
    elapsed = time.monotonic() - start
    assert answer.status is DnsStatus.TIMEOUT and answer.temperror
    assert not answer.exists and answer.rdata == ()
    assert 0.9 <= elapsed < 2.5, elapsed


def test_delay_proxy_delays_udp_and_tcp(delay_proxy):
    proxy = delay_proxy(200)
    backend = NetworkBackend([ServerAddress(proxy.host, proxy.port)], timeout=3)
    start = time.monotonic()
    answer = lookup(backend, "mx1.clean.test", "A")
    assert answer.records == ["192.0.2.10"]
    assert time.monotonic() - start >= 0.2
    tcp = subprocess.run(
        ["kdig", "+tcp", "+short", "+time=3", f"@{proxy.host}", "-p", str(proxy.port)]
        + ["mx1.clean.test", "A"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert tcp.stdout.split() == ["192.0.2.10"], tcp.stdout + tcp.stderr


def test_knot_serves_ipv6_loopback_when_it_works(knot_server):
    conf = (knot_server.run_dir / "knot.conf").read_text()
    if not ipv6_loopback():
        assert "::1@" not in conf
        return
    answer = lookup(
        NetworkBackend([ServerAddress("::1", knot_server.port)], timeout=3), "clean.test", "SOA"
    )
    assert answer.status is DnsStatus.NOERROR


def _zone(origin: str, body: str) -> str:
    return (
        f"$ORIGIN {origin}.\n$TTL 300\n"
        f"@ SOA ns1.{origin}. hostmaster.{origin}. 1 3600 600 86400 300\n"
        f"@ NS ns1\nns1 A 127.0.0.1\n{body}"
    )


def test_a_zone_knot_rejects_fails_naming_the_file(tmp_path):
    zones = tmp_path / "zones"
    zones.mkdir()
    (zones / "fine.test.zone").write_text(_zone("fine.test", ""))
    (zones / "broken.test.zone").write_text(_zone("broken.test", 'x CNAME ns1\nx TXT "both"\n'))
    with pytest.raises(ServerError) as failure:
        KnotServer.start(tmp_path / "run", zones)
    message = str(failure.value)
    assert str(zones / "broken.test.zone") in message
    assert str(zones / "fine.test.zone") not in message.split("Knot's complaints")[0]
    pid_file = tmp_path / "run" / "knot.pid"
    assert not pid_file.exists()  # stopped again


def test_knot_stops_and_frees_its_port(tmp_path):
    zones = tmp_path / "zones"
    zones.mkdir()
    (zones / "solo.test.zone").write_text(_zone("solo.test", "www A 192.0.2.1\n"))
    server = KnotServer.start(tmp_path / "run", zones)
    pid = server.pid
    assert pid is not None
    backend = NetworkBackend([ServerAddress(server.host, server.port)], timeout=3)
    assert lookup(backend, "www.solo.test", "A").records == ["192.0.2.1"]
    server.stop()
    assert wait_gone(pid, timeout=1)
    assert port_is_free(server.port)
    server.stop()  # twice is harmless
    # The fixtures were served from a copy: nothing was written next to them.
    assert sorted(p.name for p in zones.iterdir()) == ["solo.test.zone"]
