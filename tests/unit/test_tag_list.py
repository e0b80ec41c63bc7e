"""audit/records/tag_list.py: the one tag=value parser (RFC 6376 3.2; RFC 8461 3.1 and RFC 8460 3
for the stricter MTA-STS/TLS-RPT separators), and the same list errors from every record parser
that uses it."""

import pytest

from audit.records.bimi import parse_bimi
from audit.records.dkim_key import parse_dkim_key
from audit.records.dmarc import parse_dmarc
from audit.records.mta_sts import parse_sts_record
from audit.records.tag_list import (
    DKIM,
    DMARC,
    EMPTY_TAG,
    FIELDS,
    duplicate,
    first_tag,
    not_a_pair,
    parse_tag_list,
)
from audit.records.tlsrpt import parse_tlsrpt


def test_whitespace_around_tags_and_equals_is_not_part_of_the_value():
    # RFC 6376 3.2: "WSP is allowed anywhere around tags ... any WSP after the '=' and any WSP
    # before the terminating ';' is not part of the value; however, WSP inside the value is
    # significant." tag-spec = [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
    parsed = parse_tag_list(" v = DKIM1 ;\r\n\tk =rsa;  n= a  note  ; p=abc== ", DKIM)
    assert parsed.tags == {"v": "DKIM1", "k": "rsa", "n": "a  note", "p": "abc=="}
    assert parsed.errors == [] and parsed.first == "v"


def test_one_trailing_semicolon_is_allowed_an_empty_tag_spec_is_not():
    # tag-list = tag-spec *( ";" tag-spec ) [ ";" ]: one ";" may end the list; a tag-spec
    # needs a tag-name, so ";;" or a leading ";" breaks it.
    assert parse_tag_list("v=DKIM1; p=abc;", DKIM).errors == []
    assert parse_tag_list("v=DKIM1; p=abc; ; ", DKIM).errors == [EMPTY_TAG]
    assert parse_tag_list("v=DKIM1;; p=abc", DKIM).errors == [EMPTY_TAG]
    leading = parse_tag_list("; v=DKIM1; p=abc", DKIM)
    assert leading.errors == [EMPTY_TAG] and leading.first is None
    assert leading.positions == {"v": 1, "p": 2}


def test_an_empty_value_is_a_value_not_an_omitted_tag():
    parsed = parse_tag_list("v=DKIM1; p=; t=", DKIM)
    assert parsed.tags == {"v": "DKIM1", "p": "", "t": ""} and parsed.errors == []


def test_a_duplicate_tag_is_an_error_and_the_first_value_stays():
    parsed = parse_tag_list("v=DKIM1; p=first; p=second", DKIM)
    assert parsed.tags["p"] == "first" and parsed.errors == [duplicate("p")]


def test_tag_name_case_follows_each_rfc():
    # RFC 6376 3.2: "Tags MUST be interpreted in a case-sensitive manner."
    dkim = parse_tag_list("V=DKIM1; P=abc; p=def", DKIM)
    assert dkim.tags == {"V": "DKIM1", "P": "abc", "p": "def"} and dkim.errors == []
    # RFC 7489 6.4 writes DMARC tag names as quoted strings: case-insensitive (RFC 5234 2.3).
    dmarc = parse_tag_list("V=DMARC1; P=reject; p=none", DMARC)
    assert dmarc.tags == {"v": "DMARC1", "p": "reject"} and dmarc.errors == [duplicate("p")]
    # Values keep their case whatever the grammar.
    assert parse_tag_list("v=DMARC1; p=Reject", DMARC).tags["p"] == "Reject"


@pytest.mark.parametrize("part", ["1a=x", "a-b=x", "a b=x", "=x", "novalue", "a:b"])
def test_a_tag_name_must_be_alpha_then_alnum_or_underscore(part):
    parsed = parse_tag_list(f"v=DKIM1; {part}; ok_2=y", DKIM)
    assert parsed.errors == [not_a_pair(part)]
    assert parsed.tags == {"v": "DKIM1", "ok_2": "y"}


def test_fields_grammar_allows_whitespace_only_around_the_separator():
    # RFC 8461 3.1: sts-sep = *WSP %x3B *WSP; sts-extension = sts-ext-name "=" sts-ext-value
    parsed = parse_tag_list("v=STSv1 ;\tid=1 ;", FIELDS)
    assert parsed.tags == {"v": "STSv1", "id": "1"} and parsed.errors == []
    spaced = parse_tag_list("v=STSv1; id = 1", FIELDS)
    assert spaced.tags == {"v": "STSv1", "id ": " 1"}  # the record parser rejects both halves
    assert parse_tag_list("v=STSv1; ID=1", FIELDS).tags == {"v": "STSv1", "ID": "1"}


def test_empty_input_has_no_tags_and_no_list_error():
    for grammar in (DKIM, DMARC, FIELDS):
        parsed = parse_tag_list("  ", grammar)
        assert (parsed.tags, parsed.errors, parsed.first) == ({}, [], None)


def test_first_tag():
    assert first_tag(" v = DMARC1 ;p=none", DMARC) == ("v", "DMARC1")
    assert first_tag("V=DMARC1", DMARC) == ("v", "DMARC1")
    assert first_tag("v=STSv1; id=1", FIELDS) == ("v", "STSv1")
    assert first_tag("v = STSv1; id=1", FIELDS) == ("v ", " STSv1")
    assert first_tag("garbage; v=DMARC1", DMARC) is None


# Every record parser reports a broken list in the same words.
PARSERS = [
    ("dkim", lambda tail: parse_dkim_key("v=DKIM1; p=; " + tail).errors),
    ("dmarc", lambda tail: parse_dmarc("v=DMARC1; p=none; " + tail).errors),
    ("bimi", lambda tail: parse_bimi("v=BIMI1; l=; " + tail).errors),
    ("mta-sts", lambda tail: parse_sts_record("v=STSv1; id=1; " + tail).errors),
    ("tls-rpt", lambda tail: parse_tlsrpt("v=TLSRPTv1; rua=mailto:t@example.com; " + tail).errors),
]


@pytest.mark.parametrize(("record", "errors_of"), PARSERS)
def test_every_record_reports_list_errors_alike(record, errors_of):
    assert errors_of("x=1; x=2") == [duplicate("x")], record
    assert EMPTY_TAG in errors_of(";x=1"), record
    assert not_a_pair("nonsense") in errors_of("nonsense"), record
    assert errors_of("x=1;") == [], record  # one trailing ";"


@pytest.mark.parametrize(
    ("parse", "txt", "error"),
    [
        (parse_dmarc, "p=none; v=DMARC1", "the record must start with v=DMARC1"),
        (parse_dmarc, "garbage; v=DMARC1; p=none", "the record must start with v=DMARC1"),
        (parse_bimi, "l=; v=BIMI1", "the record must start with v=BIMI1"),
        (parse_sts_record, "id=1; v=STSv1", "the record must start with v=STSv1"),
        (parse_tlsrpt, "rua=mailto:t@example.com; v=TLSRPTv1", "must start with v=TLSRPTv1"),
        (parse_dkim_key, "k=rsa; v=DKIM1; p=", "v= must be the first tag"),
    ],
)
def test_version_first(parse, txt, error):
    assert any(error in e for e in parse(txt).errors)


def test_version_first_near_misses():
    assert parse_dmarc("v=DMARC1; p=none").valid
    assert parse_dkim_key("k=rsa; p=").errors == []  # DKIM keys may omit v= (RFC 6376 3.6.1)
    assert parse_sts_record("v=STSv1; id=1").valid
