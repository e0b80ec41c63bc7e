"""`audit domain --from-file`: the batch mode as a user runs it, against the fixture zones."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ZONES
from tests.infra.tty import stderr_on_a_terminal
from tests.json_output import reports_of
from tests.unit.test_report_schema import DOCUMENT_VALIDATOR


def audit(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "audit", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )


LIST = """\
# sending domains of the shop
clean.test
spf-too-many.test   # the one that fails

CLEAN.TEST.
user@example.com
dkim-good.test
"""


def targets(text: str) -> list[str]:
    return [json.loads(line)["target"] for line in text.splitlines()]


def test_jsonl_has_one_line_per_unique_valid_domain_and_bad_lines_are_numbered(tmp_path):
    listing = tmp_path / "domains.txt"
    listing.write_text(LIST)
    out = tmp_path / "out.jsonl"
    proc = audit("domain", "--from-file", str(listing), "--zone-dir", str(ZONES),
                 "--format", "jsonl", "-o", str(out), "--concurrency", "2")  # fmt: skip
    assert proc.returncode == 2, proc.stderr  # a bad line: bad input, after the whole run
    assert f"{listing}:6:" in proc.stderr and "email address" in proc.stderr
    assert "Traceback" not in proc.stderr
    lines = out.read_text().splitlines()
    assert sorted(targets(out.read_text())) == ["clean.test", "dkim-good.test", "spf-too-many.test"]
    by_target = {json.loads(line)["target"]: json.loads(line) for line in lines}
    failing = by_target["spf-too-many.test"]
    rule_ids = {f["rule_id"] for o in failing["outcomes"] for f in o["findings"]}
    assert "SPF201" in rule_ids
    assert "SPF201" not in {f["rule_id"] for o in by_target["clean.test"]["outcomes"]
                            for f in o["findings"]}  # fmt: skip
    assert list(failing) == ["schema_version", "kind", "target", "generated_at", "tool_version",
                             "duration_ms", "summary", "outcomes", "queries"]  # fmt: skip


def test_stdin_list_and_arguments_together_count_once():
    proc = audit("domain", "clean.test", "--from-file", "-", "--zone-dir", str(ZONES),
                 "--format", "jsonl", stdin="clean.test\ndmarc-none.test\n")  # fmt: skip
    assert proc.returncode in (0, 1, 3), proc.stderr
    assert sorted(targets(proc.stdout)) == ["clean.test", "dmarc-none.test"]


def test_resume_skips_exactly_the_done_ones_and_cuts_a_partial_line(tmp_path):
    listing = tmp_path / "domains.txt"
    listing.write_text("clean.test\ndkim-good.test\ndmarc-none.test\nspf-too-many.test\n")
    out = tmp_path / "out.jsonl"
    first = audit("domain", "clean.test", "dmarc-none.test", "--zone-dir", str(ZONES),
                  "--format", "jsonl", "-o", str(out))  # fmt: skip
    assert first.returncode in (0, 1, 3), first.stderr
    with out.open("a") as stream:
        stream.write('{"schema_version": 1, "kind": "domain", "target": "dkim-g')  # a cut line
    proc = audit("domain", "--from-file", str(listing), "--zone-dir", str(ZONES),
                 "--resume", str(out))  # fmt: skip
    assert proc.returncode in (0, 1, 3), proc.stderr
    done = targets(out.read_text())  # every line parses: the partial one was cut
    assert sorted(done) == sorted(["clean.test", "dmarc-none.test", "dkim-good.test",
                                   "spf-too-many.test"])  # fmt: skip
    # kept, not audited again (the first run wrote them as each finished, in either order)
    assert sorted(done[:2]) == ["clean.test", "dmarc-none.test"]


def test_json_streams_the_one_document_shape(tmp_path):
    """--from-file with --format json: the same envelope as any JSON output, its `reports`
    streamed; an empty list gives an empty `reports`, not another shape."""
    listing = tmp_path / "domains.txt"
    listing.write_text("clean.test\nspf-too-many.test\ndmarc-none.test\n")
    proc = audit("domain", "--from-file", str(listing), "--zone-dir", str(ZONES), "--format",
                 "json")  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    DOCUMENT_VALIDATOR.validate(json.loads(proc.stdout))
    doc = reports_of(proc.stdout)
    assert sorted(r["target"] for r in doc) == ["clean.test", "dmarc-none.test",
                                                "spf-too-many.test"]  # fmt: skip
    failing = next(r for r in doc if r["target"] == "spf-too-many.test")
    assert "SPF201" in {f["rule_id"] for o in failing["outcomes"] for f in o["findings"]}
    listing.write_text("# nothing to audit\n")
    empty = audit("domain", "--from-file", str(listing), "--zone-dir", str(ZONES), "--format",
                  "json")  # fmt: skip
    assert empty.returncode == 0, empty.stderr
    assert reports_of(empty.stdout) == []


def test_terminal_and_html_give_a_summary_with_the_failing_domains(tmp_path):
    listing = tmp_path / "domains.txt"
    listing.write_text("clean.test\nspf-too-many.test\n")
    proc = audit("domain", "--from-file", str(listing), "--zone-dir", str(ZONES))
    assert proc.returncode == 1, proc.stderr
    assert "2 domains audited" in proc.stdout
    failing = proc.stdout.split("Failing and inconclusive domains", 1)[1]
    assert "spf-too-many.test" in failing and "SPF201" in failing
    assert "clean.test" not in failing  # a passing domain is not listed as failing
    page = tmp_path / "summary.html"
    proc = audit("domain", "--from-file", str(listing), "--zone-dir", str(ZONES),
                 "--format", "html", "-o", str(page))  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    html = page.read_text()
    assert '<table id="failing">' in html and "<td>spf-too-many.test</td>" in html


def test_formats_that_need_every_report_are_refused_for_a_list(tmp_path):
    listing = tmp_path / "domains.txt"
    listing.write_text("clean.test\n")
    proc = audit("domain", "--from-file", str(listing), "--zone-dir", str(ZONES),
                 "--format", "sarif")  # fmt: skip
    assert proc.returncode == 2 and "audit: error: --format sarif" in proc.stderr


def test_missing_list_file_is_one_line():
    proc = audit("domain", "--from-file", "/nonexistent/list.txt", "--zone-dir", str(ZONES))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "audit: error: --from-file '/nonexistent/list.txt' does not exist"
    ]


def test_progress_on_a_terminal_stderr_and_none_otherwise(tmp_path):
    listing = tmp_path / "domains.txt"
    listing.write_text("clean.test\nspf-too-many.test\ndmarc-none.test\n")
    args = [sys.executable, "-m", "audit", "domain", "--from-file", str(listing), "--zone-dir",
            str(ZONES), "--format", "jsonl", "-o", str(tmp_path / "o.jsonl")]  # fmt: skip
    _, shown = stderr_on_a_terminal(args)
    assert "3/3" in shown and "1 failing" in shown
    quiet = audit(*args[3:])
    assert quiet.stderr == ""


def test_resume_with_another_format_is_refused_and_the_file_untouched(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text('{"target": "clean.test"}\n')
    proc = audit("domain", "dmarc-none.test", "--zone-dir", str(ZONES), "--resume", str(out),
                 "--format", "json")  # fmt: skip
    assert proc.returncode == 2 and "use --format jsonl" in proc.stderr
    assert out.read_text() == '{"target": "clean.test"}\n'


def test_an_output_that_cannot_be_written_is_one_line(tmp_path):
    listing = tmp_path / "domains.txt"
    listing.write_text("clean.test\n")
    proc = audit("domain", "--from-file", str(listing), "--zone-dir", str(ZONES),
                 "--format", "jsonl", "-o", "/dev/full")  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "audit: error: cannot write the output: No space left on device"
    ]
