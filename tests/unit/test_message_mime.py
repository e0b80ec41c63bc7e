"""MIME depth measured without recursion (audit/message/mime.py), as the stdlib parser nests."""

from __future__ import annotations

from audit.message.mime import MAX_MIME_DEPTH, mime_depth, parse_message
from tests.e2e.test_cli_mime_depth import nested


def test_plain_and_nested_depths():
    assert mime_depth(b"From: a@b.example\r\n\r\nhi\r\n") == 0
    assert [mime_depth(nested(d)) for d in (1, 2, 99, 100)] == [1, 2, 99, 100]
    assert mime_depth(nested(5000)) == MAX_MIME_DEPTH + 1  # counting stops past the cap


def test_siblings_do_not_add_depth():
    part = (
        b"--x\r\nContent-Type: multipart/alternative; boundary=y\r\n\r\n"
        b"--y\r\nContent-Type: text/plain\r\n\r\nhi\r\n--y--\r\n"
    )
    raw = b"Content-Type: multipart/mixed; boundary=x\r\n\r\n" + part * 500 + b"--x--\r\n"
    assert mime_depth(raw) == 2


def test_enclosed_messages_count_as_levels():
    def forwarded(depth: int) -> bytes:
        raw = b"From: a@b.example\r\n"
        for _ in range(depth):
            raw += b"Content-Type: message/rfc822\r\n\r\nFrom: x@y.example\r\n"
        return raw + b"\r\nbody\r\n"

    assert mime_depth(forwarded(3)) == 3
    assert mime_depth(forwarded(300)) == MAX_MIME_DEPTH + 1


def test_a_folded_content_type_and_an_unclosed_part():
    raw = (
        b'Content-Type: multipart/mixed;\r\n\tboundary="outer"\r\n\r\n--outer\r\n'
        b"Content-Type: multipart/related; boundary=inner\r\n\r\n--inner\r\n\r\nx\r\n"
        b"--outer\r\n\r\nsecond part: the inner multipart is closed by the outer boundary\r\n"
    )
    assert mime_depth(raw) == 2


def test_over_the_cap_only_the_headers_are_parsed():
    message, depth = parse_message(nested(2000))
    assert depth == MAX_MIME_DEPTH + 1
    assert message["Message-ID"] == "<deep@clean.test>" and not message.is_multipart()
    message, depth = parse_message(nested(3))
    assert depth == 3 and message.is_multipart()


def test_the_scan_counts_what_the_stdlib_parser_would_recurse_into():
    """Each of these made the stdlib recurse 3,000 deep while an earlier scan said less."""

    def chain(line_end: bytes, content_type: bytes) -> bytes:
        return (
            content_type % 0
            + line_end * 2
            + b"".join(
                b"--b%d" % i + line_end + content_type % (i + 1) + line_end * 2 for i in range(3000)
            )
        )

    folded = b"Content-Type:\r\n multipart/x; boundary=b%d"
    assert mime_depth(chain(b"\r\n", folded)) == MAX_MIME_DEPTH + 1
    assert mime_depth(chain(b"\r", b"Content-Type: multipart/x; boundary=b%d")) == 101
    assert mime_depth(chain(b"\n", b"Content-Type: multipart/x; boundary*=''b%d")) == 101
    # a part whose header section runs straight into the next delimiter
    raw = b"Content-Type: multipart/x; boundary=o\r\n\r\n--o\r\nX-A: 1\r\n--o\r\n\r\nx\r\n--o--\r\n"
    assert mime_depth(raw) == 1
