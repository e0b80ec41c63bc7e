"""Reading messages: files, stdin, mbox (mboxrd `>From ` unquoting), the size limit, bad paths."""

from __future__ import annotations

import io
import sys
import types

import pytest

from audit.message.load import (
    MessageInputError,
    load_messages,
    looks_like_mbox,
    read_input,
    split_mbox,
)

MESSAGE = (
    b"From: Sender <news@sender.example>\r\n"
    b"To: user@receiver.example\r\n"
    b"Subject: hello\r\n"
    b"\r\n"
    b"Hello.\r\n"
)

MBOX = (
    b"From news@sender.example Tue Nov 24 10:00:00 2026\n"
    b"From: Sender <news@sender.example>\n"
    b"Subject: first\n"
    b"\n"
    b"One.\n"
    b">From the archives: a quoted line.\n"
    b">>From twice quoted.\n"
    b"\n"
    b"From other@sender.example Tue Nov 24 10:05:00 2026\n"
    b"From: Other <other@sender.example>\n"
    b"Subject: second\n"
    b"\n"
    b"Two.\n"
    b"\n"
    b"From MAILER-DAEMON Tue Nov 24 10:10:00 2026\n"
    b"From: Mail Delivery System <mailer-daemon@receiver.example>\n"
    b"Subject: third\n"
    b"\n"
    b"Three.\n"
)


def write(tmp_path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_single_file_is_read_byte_for_byte(tmp_path):
    path = write(tmp_path, "sample.eml", MESSAGE)
    [message] = load_messages([path])
    assert message.name == path
    assert message.raw == MESSAGE  # CRLF kept: DKIM verifies these bytes


def test_mbox_with_three_messages_and_quoted_from(tmp_path):
    path = write(tmp_path, "box.mbox", MBOX)
    messages = load_messages([path])
    assert [m.name for m in messages] == [f"{path}#1", f"{path}#2", f"{path}#3"]
    first, second, third = (m.raw for m in messages)
    assert first.startswith(b"From: Sender <news@sender.example>\n")
    assert b"\nFrom the archives: a quoted line.\n" in first  # one level of quoting removed
    assert b"\n>From twice quoted.\n" in first
    assert first.endswith(b">From twice quoted.\n")  # the separating blank line is dropped
    assert b"Subject: second" in second and b"Subject: first" not in second
    assert third.endswith(b"Three.\n")


def test_split_mbox_and_detection():
    assert looks_like_mbox(MBOX)
    assert not looks_like_mbox(MESSAGE)
    assert not looks_like_mbox(b"From: a@b.example\r\n\r\n")
    assert len(split_mbox(MBOX)) == 3


def test_several_files_in_one_call(tmp_path):
    a = write(tmp_path, "a.eml", MESSAGE)
    b = write(tmp_path, "b.mbox", MBOX)
    names = [m.name for m in load_messages([a, b])]
    assert names == [a, f"{b}#1", f"{b}#2", f"{b}#3"]


def test_stdin_dash(monkeypatch):
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(MESSAGE)))
    [message] = load_messages(["-"])
    assert (message.name, message.raw) == ("stdin", MESSAGE)


def test_stdin_mbox(monkeypatch):
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(MBOX)))
    assert [m.name for m in load_messages(["-"])] == ["stdin#1", "stdin#2", "stdin#3"]


def test_stdin_over_the_limit(monkeypatch):
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(b"x" * 2000)))
    with pytest.raises(MessageInputError, match="stdin is larger"):
        read_input("-", limit=1000)


def test_file_over_the_limit(tmp_path):
    path = write(tmp_path, "big.eml", MESSAGE + b"x" * 5000)
    with pytest.raises(MessageInputError, match="over the"):
        load_messages([path], limit=1024)


def test_file_exactly_at_the_limit_is_accepted(tmp_path):
    path = write(tmp_path, "edge.eml", MESSAGE)
    assert load_messages([path], limit=len(MESSAGE))[0].raw == MESSAGE


def test_mbox_message_over_the_limit(tmp_path):
    big = MBOX + b"\nFrom x@sender.example Tue Nov 24 11:00:00 2026\nSubject: big\n\n"
    big += b"y" * 5000 + b"\n"
    path = write(tmp_path, "big.mbox", big)
    with pytest.raises(MessageInputError, match="#4 is over the size limit"):
        load_messages([path], limit=1024)


def test_directory_is_an_error(tmp_path):
    with pytest.raises(MessageInputError, match="is a directory"):
        load_messages([str(tmp_path)])


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(MessageInputError, match="does not exist"):
        load_messages([str(tmp_path / "nope.eml")])


def test_empty_file_is_loaded_for_the_checks_to_judge(tmp_path):
    path = write(tmp_path, "empty.eml", b"")
    assert load_messages([path])[0].raw == b""
