"""BIMI logo (SVG Tiny PS) and VMC checks, pure: no network."""

import datetime as dt

import pytest

from audit.checks.domain import bimi
from audit.checks.domain.bimi_assets import NOT_FETCHED
from audit.records.bimi_svg import check_svg
from audit.records.bimi_vmc import check_vmc
from tests.conftest import pairs
from tests.infra.certs import TestCA
from tests.infra.vmc import BAD_SVG, DTD_SVG, GOOD_SVG, make_vmc, oversize_svg


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA("audit test mark authority")


def test_good_logo():
    report = check_svg(GOOD_SVG)
    assert report.valid and report.warnings == []
    assert (report.title, report.base_profile, report.version) == (
        "Example Brand",
        "tiny-ps",
        "1.2",
    )


def test_bad_logo_lists_every_problem():
    report = check_svg(BAD_SVG)
    assert report.errors == [
        'baseProfile is None, not "tiny-ps"',
        "version is '1.1', not \"1.2\"",
        "the root <svg> has x= (SVG Tiny PS forbids it)",
        "the root <svg> has y= (SVG Tiny PS forbids it)",
        "no <title> as a child of <svg> (SVG Tiny PS requires one)",
        "<script> is not allowed in SVG Tiny PS",
        "<image> refers to 'http://tracker.example/pixel.png': external references are not allowed",
    ]
    assert report.warnings == [
        "viewBox '0 0 200 100' is not square: receivers crop the logo to a square"
    ]


def test_dtd_and_entities_are_refused_not_expanded():
    report = check_svg(DTD_SVG)
    assert report.errors == ["the file has a DOCTYPE/DTD: refused (entities could expand or fetch)"]
    assert report.title is None


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (oversize_svg(), "the file is over 32 KiB (BIMI's limit)"),
        (b"<svg", "not well-formed XML"),
        (b"\x89PNG\r\n\x1a\n", "not well-formed XML"),
        (b'<html xmlns="http://www.w3.org/1999/xhtml"/>', "the root element is <{http://www.w3"),
        (b"<svg/>", "the root element is <svg>, not <svg> in the SVG namespace"),
        (GOOD_SVG.replace(b"<title>", b'<rect onclick="x()"/><title>'), "event handler"),
        (GOOD_SVG.replace(b"<title>", b"<style>@import 'x.css';</style><title>"), "a style"),
        (GOOD_SVG.replace(b"<title>Example Brand</title>", b"<title> </title>"), "no <title>"),
    ],
)
def test_logo_errors(data, error):
    report = check_svg(data)
    assert any(e.startswith(error) for e in report.errors), report.errors


def test_truncated_fetch_is_oversize():
    assert check_svg(GOOD_SVG, truncated=True).errors == ["the file is over 32 KiB (BIMI's limit)"]


def test_truncated_vmc_is_oversize(ca):
    # the fetch stops at MAX_VMC_BYTES (README "Resource bounds"): what it cut is not judged
    report = check_vmc(make_vmc(ca, "brand.test"), ["brand.test"], truncated=True)
    assert report.errors == ["the file is over 64 KiB"] and not report.valid


def test_good_vmc(ca):
    report = check_vmc(make_vmc(ca, "brand.test"), ["brand.test", "default._bimi.brand.test"])
    assert report.valid and report.warnings == []
    assert report.has_logotype and report.has_bimi_eku and report.names == ["brand.test"]
    assert report.embedded_logo == GOOD_SVG and report.certificates == 2


def test_vmc_for_the_bimi_name_is_accepted(ca):
    pem = make_vmc(ca, "brand.test", names=("default._bimi.brand.test",))
    assert check_vmc(pem, ["brand.test", "default._bimi.brand.test"]).valid


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"logotype": False}, "the leaf has no logotype extension (1.3.6.1.5.5.7.1.12): no mark"),
        ({"eku": False}, "the leaf lacks the BIMI extended key usage (1.3.6.1.5.5.7.3.31)"),
        ({"names": ("other.test",)}, "the VMC is for other.test, not brand.test"),
        (
            {"not_after": dt.datetime(2024, 1, 2, tzinfo=dt.UTC)},
            "the VMC expired on 2024-01-02 (O=Example Brand Inc,CN=brand.test mark)",
        ),
    ],
)
def test_vmc_errors(ca, options, error):
    report = check_vmc(make_vmc(ca, "brand.test", **options), ["brand.test"])
    assert report.errors == [error]


def test_vmc_not_pem_and_broken_chain(ca):
    assert check_vmc(b"<html>oops</html>", ["brand.test"]).errors == [
        "not a PEM certificate chain (-----BEGIN CERTIFICATE-----)"
    ]
    pem = make_vmc(ca, "brand.test")
    leaf_only = pem[: pem.index(b"-----END CERTIFICATE-----") + 26]
    assert check_vmc(leaf_only, ["brand.test"]).warnings == [
        "the file holds only the VMC: include its issuing CA certificates"
    ]
    other = TestCA("another authority")
    wrong_chain = leaf_only + other.cert_pem
    (error,) = check_vmc(wrong_chain, ["brand.test"]).errors
    assert error.startswith("certificate 0 is not issued by the next one in the file")


def test_without_probes_nothing_is_fetched(run_domain_check):
    result = run_domain_check(bimi.check, "bimi-ok.test", probes=False)
    assert pairs(result) == set()
    facts = result.facts["bimi"]
    assert facts["logo_checked"] is False and facts["logo_note"] == NOT_FETCHED
