"""Seed run state: runs, sends that are never repeated (even after a crash), copies."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from audit.seed.state import (
    INTERRUPTED_LABEL,
    SCHEMA_VERSION,
    AlreadySent,
    RunStore,
    StateError,
    default_state_path,
)


@pytest.fixture
def store(tmp_path: Path):
    with RunStore(tmp_path / "state" / "seed.sqlite3") as s:
        yield s


def test_run_lifecycle(store: RunStore) -> None:
    run_id = store.create_run({"from": "news@example.com", "seeds": ["a@x.test"], "wait": 60})
    assert re.fullmatch(r"\d{8}-[0-9a-f]{6}", run_id)
    run = store.get_run(run_id)
    assert run is not None
    assert (run.status, run.report, run.finished) == ("running", None, None)
    assert run.params == {"from": "news@example.com", "seeds": ["a@x.test"], "wait": 60}

    store.finish_run(run_id, json.dumps({"kind": "seed"}))
    run = store.get_run(run_id)
    assert run is not None and run.status == "finished" and run.finished
    assert run.report_data == {"kind": "seed"}

    other = store.create_run({})
    assert other != run_id
    assert [r.id for r in store.list_runs()] == [other, run_id]  # newest first
    assert store.get_run("20000101-000000") is None


def test_sends_and_resume_never_send_twice(store: RunStore) -> None:
    run_id = store.create_run({})
    # a: sent; b: failed (may be retried); c: the process died while sending
    for seed in ("a@x.test", "b@x.test", "c@x.test"):
        store.record_send(run_id, seed, token="tok", status="sending")
    store.record_send(run_id, "a@x.test", token="tok", message_id="<m1@x>", status="sent")
    store.record_send(run_id, "b@x.test", token="tok", status="failed", error="550 no")

    assert store.sent_seeds(run_id) == {"a@x.test", "c@x.test"}
    with pytest.raises(AlreadySent):
        store.record_send(run_id, "a@x.test", token="tok", status="sending")
    with pytest.raises(AlreadySent):
        store.record_send(run_id, "c@x.test", token="tok", status="sending")

    assert store.resume_run(run_id) == {"c@x.test"}
    sends = store.sends(run_id)
    assert sends["a@x.test"].outcome == "sent" and sends["a@x.test"].message_id == "<m1@x>"
    assert sends["b@x.test"].outcome == "failed" and sends["b@x.test"].error == "550 no"
    assert (sends["c@x.test"].status, sends["c@x.test"].outcome) == (
        "interrupted",
        INTERRUPTED_LABEL,
    )
    assert store.send_states(run_id) == {
        "a@x.test": "sent",
        "b@x.test": "failed",
        "c@x.test": "interrupted",
    }
    # still never again after the resume; the failed one may be retried
    assert store.sent_seeds(run_id) == {"a@x.test", "c@x.test"}
    with pytest.raises(AlreadySent):
        store.record_send(run_id, "c@x.test", token="tok", status="sending")
    store.record_send(run_id, "b@x.test", token="tok", status="sending")
    store.record_send(run_id, "b@x.test", token="tok", status="sent", provider_id="api-1")
    b = store.sends(run_id)["b@x.test"]
    assert (b.status, b.attempts, b.provider_id, b.error) == ("sent", 2, "api-1", None)


def test_interrupted_run_seen_from_a_new_process(tmp_path: Path) -> None:
    path = tmp_path / "seed.sqlite3"
    first = RunStore(path)
    run_id = first.create_run({"n": 1})
    first.record_send(run_id, "a@x.test", token="t", status="sending")
    del first  # the process dies: no close, no 'sent'

    with RunStore(path) as second:
        assert second.sent_seeds(run_id) == {"a@x.test"}
        assert second.sends(run_id)["a@x.test"].outcome == INTERRUPTED_LABEL
        with pytest.raises(AlreadySent):
            second.record_send(run_id, "a@x.test", token="t", status="sending")


def test_skipped_sends_may_be_sent_on_resume(store: RunStore) -> None:
    run_id = store.create_run({})
    store.record_send(run_id, "a@x.test", token="t", status="skipped", error="run stopped")
    assert store.sent_seeds(run_id) == set()
    store.record_send(run_id, "a@x.test", token="t", status="sending")
    assert store.sent_seeds(run_id) == {"a@x.test"}


def test_copies(store: RunStore) -> None:
    run_id = store.create_run({})
    raw = b"Received: from x\r\nSubject: t\r\n\r\nbody \xff\r\n"
    store.record_copy(
        run_id,
        "a@x.test",
        folder="Junk",
        placement="spam",
        raw=raw,
        found_at="2026-11-30T12:00:05+00:00",
        delay_s=5.5,
    )
    (copy,) = store.copies(run_id).values()
    assert (copy.seed, copy.folder, copy.placement, copy.raw, copy.delay_s) == (
        "a@x.test",
        "Junk",
        "spam",
        raw,
        5.5,
    )
    assert copy.found_at == "2026-11-30T12:00:05+00:00"
    assert store.copies(store.create_run({})) == {}


def test_unknown_runs_and_statuses(store: RunStore) -> None:
    with pytest.raises(StateError):
        store.record_send("nope", "a@x.test", token="t", status="sending")
    with pytest.raises(StateError):
        store.finish_run("nope", "{}")
    with pytest.raises(StateError):
        store.resume_run("nope")
    with pytest.raises(ValueError):
        store.record_send(store.create_run({}), "a@x.test", token="t", status="bounced")


def test_file_is_wal_and_versioned_and_holds_no_passwords(tmp_path: Path) -> None:
    path = tmp_path / "seed.sqlite3"
    with RunStore(path) as s:
        run_id = s.create_run({"from": "a@x.test"})
        s.record_send(run_id, "a@x.test", token="t", status="sent")
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    columns = {
        row[1]
        for table in ("runs", "sends", "copies")
        for row in db.execute(f"PRAGMA table_info({table})")
    }
    assert not any("pass" in c or "secret" in c for c in columns)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(StateError, match="newer"):
        RunStore(path)


def test_default_path() -> None:
    assert default_state_path({"XDG_STATE_HOME": "/var/st"}) == Path("/var/st/audit/seed.sqlite3")
    assert default_state_path({}) == Path.home() / ".local/state/audit/seed.sqlite3"
    assert default_state_path({"XDG_STATE_HOME": "relative"}).is_relative_to(Path.home())
