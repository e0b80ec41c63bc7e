"""The DNS fault matrix: a real Knot behind tests/infra/dns_proxy.py, broken one way per row, and
`audit domain` run through the CLI as a user runs it.

Unknown is never absent: whatever the server does (drop, answer too late, SERVFAIL, REFUSED,
another message id, another question, bytes that are not DNS), the audit of a clean scenario
says DNS001 and exits 3, and no rule that means "record missing" fires. A truncated UDP answer
is not a fault: the client retries over TCP and must use that answer (the same verdict as Knot
asked directly). All rows run at the same time, each fault within `--timeout 1`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.infra.servers import DnsProxy, ServerError
from tests.json_output import report_of

DOMAIN = "clean.test"  # no finding at all when Knot answers (the near miss of every row)
# Rules that say a record or an answer is absent: what an unknown must never turn into.
MISSING = {"SPF001", "DMARC001", "DMARC302", "MX001", "MX003", "DKIM001", "PTR001", "RPT001",
           "STS001", "DNSSEC001"}  # fmt: skip
FAULTS = ("drop", "delay", "servfail", "refused", "wrong-id", "wrong-question", "garbage")
ROWS = (*FAULTS, "truncate", "direct")


def _start(knot_port: int, row: str) -> DnsProxy:
    if row == "delay":
        return DnsProxy.start(knot_port, delay_ms=2500)  # past --timeout 1
    return DnsProxy.start(knot_port, fault=row)


def _cli(server: str, timeout: float = 1) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "audit", "domain", DOMAIN, "--dns-server", server]
    command += ["--no-probes", "--format", "json", "--timeout", f"{timeout:g}"]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ)
    )


def _finish(process: subprocess.Popen[str]) -> tuple[int, dict]:
    out, err = process.communicate(timeout=120)
    assert not err.strip() or "Traceback" not in err, err
    return process.returncode, report_of(out)


@pytest.fixture(scope="module")
def matrix(knot_server) -> Iterator[dict[str, tuple[int, dict]]]:
    """Every row's (exit code, JSON report), the CLI runs made concurrently."""
    proxies: list[DnsProxy] = []
    try:
        servers = {"direct": str(knot_server)}
        for row in (*FAULTS, "truncate"):
            proxy = _start(knot_server.port, row)
            proxies.append(proxy)
            servers[row] = str(proxy)
        # rows that must be answered get room for a loaded machine (UDP, then TCP per query)
        running = {row: _cli(servers[row], 1 if row in FAULTS else 10) for row in ROWS}
        yield {row: _finish(process) for row, process in running.items()}
    except ServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    finally:
        for proxy in proxies:
            proxy.stop()


def _rules(report: dict) -> list[tuple[str, str]]:
    return [(f["rule_id"], f["target"]) for o in report["outcomes"] for f in o["findings"]]


def _outcome(report: dict, check: str) -> dict:
    return next(o for o in report["outcomes"] if o["check"] == check)


@pytest.mark.parametrize("row", FAULTS)
def test_a_broken_server_is_inconclusive_never_missing(matrix, row):
    code, report = matrix[row]
    rules = _rules(report)
    assert code == 3, (row, rules)
    assert {rule for rule, _ in rules} == {"DNS001"}, rules  # nothing else: no verdict reached
    assert not {rule for rule, _ in rules} & MISSING
    assert report["summary"]["inconclusive"] is True
    # The first question of each family failed and was reported as unknown, at the domain.
    for check, query in (("spf", "clean.test TXT"), ("dmarc", "_dmarc.clean.test TXT"),
                         ("mx", "clean.test MX")):  # fmt: skip
        outcome = _outcome(report, check)
        assert outcome["status"] == "inconclusive", (check, outcome)
        messages = [f["message"] for f in outcome["findings"] if f["rule_id"] == "DNS001"]
        assert any(m.startswith(f"{query} lookup gave") for m in messages), (check, messages)
    statuses = {q["status"] for q in report["queries"]}
    assert statuses <= {"TIMEOUT", "SERVFAIL"}, statuses


def test_refused_says_refused_and_points_at_a_recursive_resolver(matrix):
    _, report = matrix["refused"]
    finding = next(f for f in _outcome(report, "dmarc")["findings"] if f["rule_id"] == "DNS001")
    assert finding["message"].startswith("_dmarc.clean.test TXT lookup gave REFUSED")
    assert finding["evidence"] == ["_dmarc.clean.test TXT -> SERVFAIL (REFUSED)"]
    assert "--dns-server at a recursive resolver" in finding["fix"]
    # a SERVFAIL is not a REFUSED: no such hint there
    _, servfail = matrix["servfail"]
    other = next(f for f in _outcome(servfail, "dmarc")["findings"] if f["rule_id"] == "DNS001")
    assert other["evidence"] == ["_dmarc.clean.test TXT -> SERVFAIL (SERVFAIL)"]
    assert "recursive resolver" not in other["fix"]


def test_truncated_udp_answers_are_taken_over_tcp(matrix):
    code, report = matrix["truncate"]
    direct_code, direct = matrix["direct"]
    assert (code, direct_code) == (0, 0), (_rules(report), _rules(direct))
    assert _rules(report) == _rules(direct) == []

    def statuses(doc):
        return {o["check"]: o["status"] for o in doc["outcomes"]}

    assert statuses(report) == statuses(direct)
    mx = next(q for q in report["queries"] if (q["name"], q["type"]) == ("clean.test", "MX"))
    assert (mx["status"], mx["answers"]) == (
        "NOERROR",
        ["10 mx1.clean.test.", "20 mx2.clean.test."],
    )


def test_a_refused_dmarc_name_is_dns001_never_dmarc001(knot_server):
    """REFUSED for `_dmarc.<domain>` alone (a name inside a zone the server serves): the DMARC
    verdict is unknown (DNS001, exit 3), whatever the RA bit, never DMARC001 "missing"."""
    try:
        proxy = DnsProxy.start(knot_server.port, fault="refused", only=("_dmarc.clean.test",))
    except ServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        code, report = _finish(_cli(str(proxy), 10))
    finally:
        proxy.stop()
    assert code == 3
    assert _rules(report) == [("DNS001", "clean.test")]
    dmarc = _outcome(report, "dmarc")
    assert dmarc["status"] == "inconclusive"
    [finding] = dmarc["findings"]
    assert finding["message"].startswith("_dmarc.clean.test TXT lookup gave REFUSED")
    assert "--dns-server" in finding["fix"]
    # everything else was answered, and judged as through Knot directly
    for check in ("spf", "mx", "dkim", "ptr", "tlsrpt"):
        assert _outcome(report, check)["status"] == "completed", check
    # refused: the name the proxy refuses, and the root's keys (Knot serves no root zone:
    # DNSSEC is "not checked", saying so, never "unsigned")
    refused = {(q["name"], q["type"]) for q in report["queries"] if q["error"] == "REFUSED"}
    assert refused == {("_dmarc.clean.test", "TXT"), ("", "DNSKEY")}
    dnssec = _outcome(report, "dnssec")
    assert dnssec["status"] == "skipped" and "REFUSED . DNSKEY" in dnssec["error"]
