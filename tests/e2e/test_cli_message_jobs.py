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
        [(o["check"], o["status"], sorted((f["rule_id"], f["target"]) for f in o["findings"]))
         for o in report["outcomes"]],  # fmt: skip
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
