"""MTA-STS policy files (RFC 8461 3.2), the MX pattern match (4.1), and a sender's reading of a
fetch (3.3), without the network."""

import pytest

from audit.checks.domain import mta_sts
from audit.checks.domain.mta_sts import judge_fetch
from audit.net.https import FetchError, HttpsResult
from audit.records.mta_sts_policy import coverage, mx_matches, parse_policy
from tests.conftest import pairs

GOOD = "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: *.example.net\nmax_age: 604800\n"


def test_good_policy_lf_and_crlf():
    for text in (GOOD, GOOD.replace("\n", "\r\n"), GOOD.rstrip("\n")):
        policy = parse_policy(text)
        assert policy.valid and not policy.warnings, (text, policy.errors, policy.warnings)
        assert (policy.version, policy.mode, policy.max_age) == ("STSv1", "enforce", 604800)
        assert policy.mx == ["mx1.example.com", "*.example.net"]


def test_unknown_keys_are_ignored_and_kept_as_extensions():
    policy = parse_policy(GOOD + "x_comment: hello world\n")
    assert policy.valid and policy.extensions == {"x_comment": "hello world"}


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (GOOD.replace("STSv1", "STSv2"), "version 'STSv2' is not STSv1"),
        (GOOD.replace("version: STSv1\n", ""), "version: STSv1 is missing"),
        (GOOD.replace("enforce", "enforcing"), "mode 'enforcing' is not enforce, testing or none"),
        (GOOD.replace("mode: enforce\n", ""), "mode is missing (enforce, testing or none)"),
        (GOOD.replace("604800", "abc"), "max_age 'abc' is not a number of seconds"),
        (GOOD.replace("604800", "-1"), "max_age '-1' is not a number of seconds"),
        (GOOD.replace("604800", "31557601"), "max_age 31557601 is over the maximum of 31557600"),
        (GOOD.replace("max_age: 604800\n", ""), "max_age is missing"),
        (
            "version: STSv1\nmode: testing\nmax_age: 86400\n",
            "no mx patterns: in mode testing no MX host is allowed",
        ),
        (
            GOOD + "this is not a field\n",
            "line 6 'this is not a field' is not a 'key: value' field",
        ),
        (GOOD.replace("mx1.example.com", "mx1..example.com"), "line 3: mx 'mx1..example.com'"),
        (GOOD.replace("*.example.net", "mail.*.example.net"), "line 4: mx 'mail.*.example.net'"),
        ("<html><body>Welcome</body></html>\n", "line 1 '<html><body>Welcome</body></html>'"),
    ],
)
def test_syntax_errors(text, error):
    policy = parse_policy(text)
    assert not policy.valid
    assert any(e.startswith(error) for e in policy.errors), policy.errors


def test_mode_none_needs_no_mx():
    policy = parse_policy("version: STSv1\nmode: none\nmax_age: 86400\n")
    assert policy.valid and policy.mode == "none" and policy.mx == []


def test_duplicates_keep_the_first_and_warn():
    policy = parse_policy(GOOD + "mode: testing\nmax_age: 604800\n")
    assert policy.valid and policy.mode == "enforce" and policy.duplicates == ["mode", "max_age"]
    assert "mode appears more than once (line 6: 'testing', ignored); senders use the first" in (
        policy.warnings
    )
    assert any(w.startswith("max_age appears more than once (line 7: the same value)") for w in (
        policy.warnings
    ))  # fmt: skip


def test_warnings():
    short = parse_policy(GOOD.replace("604800", "3600"))
    assert short.valid and short.max_age == 3600
    assert short.warnings[0].startswith("max_age 3600 is under a day (86400)")
    late = parse_policy("mode: enforce\nversion: STSv1\nmx: a.example\nmax_age: 86400\n")
    assert late.valid
    assert late.warnings == ["version is not the first field: put `version: STSv1` first"]
    blank = parse_policy("version: STSv1\n\nmode: none\nmax_age: 86400\n")
    assert blank.valid and blank.warnings == ["line 2 is empty (the RFC 8461 grammar has none)"]


@pytest.mark.parametrize(
    ("pattern", "host", "expected"),
    [
        ("mx1.example.com", "mx1.example.com", True),
        ("MX1.Example.COM", "mx1.example.com.", True),
        ("mx1.example.com.", "MX1.EXAMPLE.COM", True),
        ("mx1.example.com", "mx2.example.com", False),
        ("*.example.com", "mx1.example.com", True),
        ("*.example.com", "MX1.EXAMPLE.COM.", True),
        ("*.example.com", "example.com", False),  # the wildcard needs a label
        ("*.example.com", "a.b.example.com", False),  # and only one
        ("*.example.com", "mx1.example.com.evil.test", False),
        ("*.example.com", "mx1.notexample.com", False),
        ("mx1.example.com", "*.example.com", False),
    ],
)
def test_mx_matching(pattern, host, expected):
    assert mx_matches(pattern, host) is expected


def test_coverage():
    matched, unused = coverage(
        ["mx1.example.com", "*.backup.example.com", "old.example.com"],
        ["mx1.example.com", "b1.backup.example.com", "mx3.example.com"],
    )
    assert matched == {
        "mx1.example.com": ["mx1.example.com"],
        "b1.backup.example.com": ["*.backup.example.com"],
        "mx3.example.com": [],
    }
    assert unused == ["old.example.com"]


def _response(**fields) -> HttpsResult:
    base = {"url": mta_sts.policy_url("example.com"), "host": "mta-sts.example.com", "port": 443}
    base["path"] = mta_sts.POLICY_PATH
    return HttpsResult(**{**base, **fields})


def test_judge_fetch_reads_like_a_sender():
    ok = judge_fetch(
        _response(status=200, headers=[("Content-Type", "text/plain; charset=utf-8")], body=b"x")
    )
    assert ok.unreachable == [] and ok.policy is not None
    redirect = judge_fetch(
        _response(status=301, reason="Moved", headers=[("Location", "https://www.example.com/")])
    )
    assert redirect.unreachable == [
        "HTTP 301 redirect to https://www.example.com/: senders do not follow redirects"
    ]
    assert judge_fetch(_response(status=404, reason="Not Found")).unreachable == [
        "HTTP 404 Not Found"
    ]
    html = judge_fetch(
        _response(status=200, headers=[("Content-Type", "text/html")], body=GOOD.encode())
    )
    assert html.invalid == ["Content-Type is text/html, not text/plain"]
    assert html.policy is not None and html.policy.valid
    big = judge_fetch(
        _response(status=200, headers=[("Content-Type", "text/plain")], body=b"x", truncated=True)
    )
    assert big.invalid == ["the policy is over 64 KiB"] and big.policy is None
    tls = judge_fetch(
        _response(error=FetchError.TLS, detail="bad", tls_problems=["untrusted", "name-mismatch"])
    )
    assert tls.unreachable == [
        "TLS failed: certificate untrusted, name mismatch for mta-sts.example.com (bad)"
    ]


def test_without_probes_the_policy_is_not_fetched(run_domain_check):
    result = run_domain_check(mta_sts.check, "clean.test", probes=False)
    assert pairs(result) == set()
    facts = result.facts["mta_sts"]
    assert facts["policy_fetched"] is False
    assert facts["policy_note"] == mta_sts.NOT_FETCHED
