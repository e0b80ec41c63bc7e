"""Property: the issue-4 parsers take whatever DNS, an HTTPS server or a mail server sends and
never raise: MTA-STS record and policy, TLS-RPT, BIMI record and SVG, VMC, certificate chains
and TLSA matching, RFC 6125 name matching."""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from audit.records.bimi import parse_bimi
from audit.records.bimi_svg import check_svg
from audit.records.bimi_vmc import check_vmc
from audit.records.certificate import analyze_chain, hostname_matches
from audit.records.mta_sts import parse_sts_record
from audit.records.mta_sts_policy import coverage, mx_matches, parse_policy
from audit.records.tlsa import match_tlsa
from audit.records.tlsrpt import parse_tlsrpt

TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2FF), max_size=300)
FIELDS = st.lists(
    st.sampled_from(
        ["version: STSv1", "mode: enforce", "mode: testing", "max_age: 86400", "mx: *.x.test",
         "mx: mx1.x.test", "v=BIMI1", "l=https://x.test/l.svg", "a=", "v=TLSRPTv1",
         "rua=mailto:a@x.test", "v=STSv1", "id=1", ";", ":", "\r\n", "\n", "=", "*.", "."]
    ) | TEXT,
    max_size=12,
)  # fmt: skip
SETTINGS = settings(max_examples=150, deadline=None)


@SETTINGS
@given(FIELDS)
def test_text_records_and_policies_never_raise(parts: list[str]) -> None:
    text = "".join(parts)
    policy = parse_policy(text)
    json.dumps(policy.to_dict())
    for parse in (parse_sts_record, parse_tlsrpt, parse_bimi):
        parse(text.replace("\n", " "))
    coverage(policy.mx, [text[:60] or "mx.x.test", "mx1.x.test"])
    mx_matches(text[:60], "mx1.x.test")
    hostname_matches(text[:60], "mx1.x.test")


@SETTINGS
@given(st.binary(max_size=2000) | st.builds(lambda t: t.encode(), TEXT))
def test_svg_and_vmc_bytes_never_raise(data: bytes) -> None:
    check_svg(b'<svg xmlns="http://www.w3.org/2000/svg" ' + data)
    check_svg(data)
    pem = b"-----BEGIN CERTIFICATE-----\n" + data + b"\n-----END CERTIFICATE-----\n"
    check_vmc(pem, ["x.test"])
    check_vmc(data, ["x.test"])


@SETTINGS
@given(st.lists(st.binary(max_size=400), max_size=3), st.binary(max_size=64))
def test_chains_and_tlsa_never_raise(chain: list[bytes], association: bytes) -> None:
    now = dt.datetime.now(dt.UTC)
    analyze_chain(chain, "mx1.x.test", anchors=[], now=now)
    records = [
        SimpleNamespace(usage=u, selector=s, mtype=m, cert=association)
        for u in (2, 3)
        for s in (0, 1)
        for m in (0, 1, 2)
    ]
    match_tlsa(records, chain)
