"""audit/net/nsec.py: NSEC coverage in canonical order (RFC 4034 6.1), NSEC3 hashes and hash
coverage (RFC 5155 Appendix A and B.1), type bitmaps. Both the zone-file backend and the
validator decide with these."""

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from audit.net.nsec import (
    listed_types,
    nsec3_covers,
    nsec3_digest,
    nsec3_owner_hash,
    nsec_covers,
)

# RFC 4034 6.1: "The following names are sorted in canonical DNS name order."
CANONICAL = [
    "example.",
    "a.example.",
    "yljkjljk.a.example.",
    "Z.a.example.",
    "zABC.a.EXAMPLE.",
    "z.example.",
    "\\001.z.example.",
    "*.z.example.",
    "\\200.z.example.",
]
APEX = dns.name.from_text("example.")


def _name(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


def _chain() -> list[tuple[dns.name.Name, dns.name.Name]]:
    """The NSEC chain of a zone holding exactly the RFC's names: (owner, next), the last one's
    next is the apex (RFC 4034 4.1.1)."""
    names = [_name(n) for n in CANONICAL]
    return list(zip(names, names[1:] + [APEX], strict=True))


def _covering(qname: str) -> list[str]:
    q = _name(qname)
    return [owner.to_text() for owner, nxt in _chain() if nsec_covers(owner, nxt, q, APEX)]


def test_the_rfc_names_are_in_canonical_order():
    names = [_name(n) for n in CANONICAL]
    assert names == sorted(names)


@pytest.mark.parametrize("name", CANONICAL)
def test_an_existing_name_is_matched_never_covered(name):
    assert _covering(name) == []
    assert _covering(name.upper()) == []  # case does not matter (RFC 4034 6.1)


@pytest.mark.parametrize(
    "qname, owner",
    [
        ("b.a.example.", "a.example."),  # a child sorts right after its parent
        ("yz.a.example.", "yljkjljk.a.example."),
        ("zz.a.example.", "zABC.a.EXAMPLE."),  # "zz" > "zabc": the octets, left-justified
        ("y.example.", "zABC.a.EXAMPLE."),  # all of a.example's subtree sorts before y
        ("\\000.z.example.", "z.example."),
        ("a.z.example.", "*.z.example."),  # 0x2a < 0x61 < 0x80
        ("A.z.example.", "*.z.example."),  # upper case sorts as lower case
        ("zz.z.example.", "*.z.example."),
    ],
)
def test_a_missing_name_is_covered_by_exactly_its_predecessor(qname, owner):
    assert _covering(qname) == [owner]


@pytest.mark.parametrize("qname", ["\\201.z.example.", "zz.example.", "a.\\200.z.example."])
def test_the_last_nsec_wraps_to_the_apex(qname):
    assert _covering(qname) == ["\\200.z.example."]


@pytest.mark.parametrize("qname", ["org.", "a.org.", "example.org.", "."])
def test_a_name_outside_the_zone_is_covered_by_none(qname):
    assert _covering(qname) == []


def test_a_zone_with_one_nsec_covers_all_but_its_apex():
    assert nsec_covers(APEX, APEX, _name("www.example."), APEX)
    assert not nsec_covers(APEX, APEX, APEX, APEX)


# RFC 5155 Appendix A: the example zone's hashes (SHA-1, 12 iterations, salt aabbccdd).
class _Params:
    algorithm, iterations, salt = 1, 12, bytes.fromhex("aabbccdd")


RFC5155_HASHES = {
    "example.": "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom",
    "a.example.": "35mthgpgcu1qg68fab165klnsnk3dpvl",
    "ai.example.": "gjeqe526plbf1g8mklp59enfd789njgi",
    "ns1.example.": "2t7b4g4vsa5smi47k61mv5bv1a22bojr",
    "ns2.example.": "q04jkcevqvmu85r014c7dkba38o0ji5r",
    "w.example.": "k8udemvp1j2f7eg6jebps17vp3n8i58h",
    "*.w.example.": "r53bq7cc2uvmubfu5ocmm6pers9tk9en",
    "x.w.example.": "b4um86eghhds6nea196smvmlo4ors995",
    "y.w.example.": "ji6neoaepv8b5o6k4ev33abha8ht9fgc",
    "x.y.w.example.": "2vptu5timamqttgl4luu9kg21e0aor3s",
    "xx.example.": "t644ebqk9bibcna874givr6joj62mlhv",
}


@pytest.mark.parametrize("name, digest", sorted(RFC5155_HASHES.items()))
def test_nsec3_hashes_of_the_rfc_example(name, digest):
    assert nsec3_digest(_name(name), _Params()) == digest.upper()


def _nsec3_chain() -> list[tuple[str, dns.rdata.Rdata]]:
    """(owner hash, NSEC3 rdata) for every name of the example, in hash order, wrapping."""
    hashes = sorted(h.upper() for h in RFC5155_HASHES.values())
    out = []
    for owner, nxt in zip(hashes, hashes[1:] + hashes[:1], strict=True):
        rd = dns.rdata.from_text(
            dns.rdataclass.IN, dns.rdatatype.NSEC3, f"1 0 12 aabbccdd {nxt.lower()} A RRSIG"
        )
        out.append((owner, rd))
    return out


def _nsec3_covering(name: str) -> list[str]:
    digest = nsec3_digest(_name(name), _Params())
    return [owner.lower() for owner, rd in _nsec3_chain() if nsec3_covers(owner, rd, digest)]


def test_rfc5155_b1_next_closer_name_is_covered():
    # B.1: the next closer name c.x.w.example (0va5...) falls between example and ns1.example
    assert _nsec3_covering("c.x.w.example.") == ["0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"]


def test_rfc5155_b1_wildcard_at_the_closest_encloser_is_covered():
    # B.1: *.x.w.example (92pq...) falls between a.example (35mt...) and x.w.example (b4um...)
    assert _nsec3_covering("*.x.w.example.") == ["35mthgpgcu1qg68fab165klnsnk3dpvl"]


def test_the_last_nsec3_wraps_around():
    # a.c.x.w.example hashes to 06pj..., before the first hash: the last NSEC3 (t644...) covers it
    assert nsec3_digest(_name("a.c.x.w.example."), _Params()).startswith("06PJ")
    assert _nsec3_covering("a.c.x.w.example.") == ["t644ebqk9bibcna874givr6joj62mlhv"]


@pytest.mark.parametrize("name", sorted(RFC5155_HASHES))
def test_a_hash_that_exists_is_matched_never_covered(name):
    assert _nsec3_covering(name) == []


def test_owner_hash_from_a_name_or_text():
    owner = "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example."
    assert nsec3_owner_hash(_name(owner)) == "0P9MHAVEQVM6T7VBL5LOP2U3T2RP3TOM"
    assert nsec3_owner_hash(owner.rstrip(".")) == "0P9MHAVEQVM6T7VBL5LOP2U3T2RP3TOM"


def test_type_bitmap_across_windows():
    rd = dns.rdata.from_text(
        dns.rdataclass.IN, dns.rdatatype.NSEC, "host.example. A MX RRSIG NSEC CAA TYPE1234"
    )
    assert listed_types(rd) == {1, 15, 46, 47, 257, 1234}
    nsec3 = _nsec3_chain()[0][1]
    assert listed_types(nsec3) == {dns.rdatatype.A, dns.rdatatype.RRSIG}
