"""`audit message --jobs N`: the same reports as one process, in input order (or streamed)."""

from __future__ import annotations

import json

from tests.conftest import ZONES
from tests.e2e.test_cli_message import audit, signed_message
from tests.json_output import reports_of

FROM_LINE = b"From a@b Tue Nov 24 10:00:00 2026\n"


def _mbox(tmp_path, count=12):
    parts = []
    for i in range(count):
        raw = signed_message(f"Message {i}.\r\n".encode())
        if i % 3 == 1:
            raw = raw.replace(b"Message", b"MESSAGE")  # body changed after signing: DKIM302
        parts.append(FROM_LINE + raw + b"\n")
    box = tmp_path / "box.mbox"
    box.write_bytes(b"".join(parts))
    return box


def _essence(report: dict) -> tuple:
    """What must not depend on the process that audited it (times left out)."""
    return (
        report["target"],
        report["summary"]["counts"],
        [
            (o["check"], o["status"], sorted((f["rule_id"], f["target"]) for f in o["findings"]))
            for o in report["outcomes"]
        ],  # fmt: skip
        sorted((q["name"], q["type"], q["status"], tuple(q["answers"])) for q in report["queries"]),
    )


def test_jobs_give_the_same_reports_in_input_order(tmp_path):
    box = _mbox(tmp_path)
    one = audit("message", str(box), "--zone-dir", str(ZONES), "--format", "json")
    two = audit("message", str(box), "--zone-dir", str(ZONES), "--format", "json", "--jobs", "2")
    assert one.returncode == two.returncode == 1, two.stderr.decode()
    single, parallel = reports_of(one.stdout), reports_of(two.stdout)
    assert [r["target"] for r in parallel] == [f"{box}#{i}" for i in range(1, 13)]
    assert [_essence(r) for r in parallel] == [_essence(r) for r in single]
    tampered = {
        r["target"]
        for r in parallel
        for o in r["outcomes"]
        for f in o["findings"]
        if f["rule_id"] == "DKIM302"
    }
    assert tampered == {f"{box}#{i}" for i in (2, 5, 8, 11)}


def test_jobs_stream_jsonl_one_line_per_message(tmp_path):
    box = _mbox(tmp_path, count=6)
    proc = audit("message", str(box), "--zone-dir", str(ZONES), "--format", "jsonl", "--jobs", "2")
    assert proc.returncode == 1, proc.stderr.decode()
    targets = [json.loads(line)["target"] for line in proc.stdout.decode().splitlines()]
    assert sorted(targets) == sorted(f"{box}#{i}" for i in range(1, 7))


def test_a_maildir_is_read_message_by_message(tmp_path):
    maildir = tmp_path / "Mail"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1.a:2,").write_bytes(signed_message())
    (maildir / "cur" / "2.b:2,S").write_bytes(signed_message().replace(b"Hello", b"HELLO"))
    (maildir / "tmp" / "3.c").write_bytes(b"half delivered")  # never read
    proc = audit("message", str(maildir), "--zone-dir", str(ZONES), "--format", "json",
                 "--jobs", "2")  # fmt: skip
    reports = reports_of(proc.stdout)
    assert [r["target"] for r in reports] == [
        str(maildir / "new" / "1.a:2,"),
        str(maildir / "cur" / "2.b:2,S"),
    ]
    assert reports[0]["summary"]["counts"]["high"] == 0


VOLATILE = ("duration_ms", "elapsed_ms", "generated_at")


def _timeless(value):
    """A report with its clock readings left out and its DNS log as a set (answers arrive in
    any order when several messages ask at once)."""
    if isinstance(value, dict):
        out = {k: _timeless(v) for k, v in value.items() if k not in VOLATILE}
        if "queries" in out and "outcomes" in out:
            out["queries"] = sorted(out["queries"], key=lambda q: json.dumps(q, sort_keys=True))
        return out
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


def _mixed_mbox(tmp_path):
    """Messages that take every road through the checks: passing, body and header changed
    after signing, unsigned, sent from an IP outside SPF, an ARC header to validate, a body
    over the size verified inline, and a bare minimum message."""
    good = signed_message()
    kinds = [
        good,
        good.replace(b"Hello there.", b"Hello THERE."),
        good.replace(b"Subject: Hello", b"Subject: Changed"),
        good[good.index(b"Return-Path") :],  # the DKIM-Signature header cut off
        good.replace(b"[192.0.2.20]", b"[203.0.113.5]"),
        b"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=msg-dkim.test; s=s2048; b=AAAA\r\n" + good,
        signed_message(b"A long letter.\r\n" * 12_000),
        b"From: a@b.test\r\n\r\nx\r\n",
    ]
    box = tmp_path / "mixed.mbox"
    box.write_bytes(b"".join(FROM_LINE + raw + b"\n" for _ in range(3) for raw in kinds))
    return box, len(kinds) * 3


def test_jobs_give_identical_reports_for_a_mixed_mbox(tmp_path):
    box, count = _mixed_mbox(tmp_path)
    common = ("message", str(box), "--zone-dir", str(ZONES))
    one = audit(*common, "--format", "json")
    two = audit(*common, "--format", "json", "--jobs", "2")
    lines = audit(*common, "--format", "jsonl", "--jobs", "2")
    assert one.returncode == two.returncode == lines.returncode == 1, two.stderr.decode()
    single = reports_of(one.stdout)
    assert [r["target"] for r in single] == [f"{box}#{i}" for i in range(1, count + 1)]
    assert _timeless(reports_of(two.stdout)) == _timeless(single)
    streamed = [json.loads(line) for line in lines.stdout.decode().splitlines()]
    assert _timeless(streamed) == _timeless(single)  # JSONL keeps the input order too
    results = {
        r["target"]: (
            [
                v["result"]
                for o in r["outcomes"]
                if o["check"] == "dkim"
                for v in o["facts"]["dkim"]
            ],
            next(o["facts"]["arc"]["cv"] for o in r["outcomes"] if o["check"] == "arc"),
        )
        for r in single[:8]
    }
    assert list(results.values()) == [
        (["pass"], "none"),
        (["fail"], "none"),
        (["fail"], "none"),
        ([], "none"),
        (["pass"], "none"),
        (["pass"], "fail"),
        (["pass"], "none"),
        ([], "none"),
    ]
