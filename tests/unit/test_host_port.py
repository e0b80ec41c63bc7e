"""HOST:PORT: one parser (audit.domains.parse_host_port) and one written form for the three
places that read a submission relay: `--smtp-relay`, a [[path]] table's `smtp`, and the relay
probe. Once `--smtp-relay [2001:db8::1]:587` was kept as `2001:db8::1:587` while the config
wrote `[2001:db8::1]:587`, and `--smtp-relay 192.0.2.1:0587` kept an unchecked host form."""

from __future__ import annotations

import pytest

from audit.checks.domain.submission import split_relay
from audit.cli_paths import parse_relay
from audit.config import parse_config
from audit.domains import format_host_port, normalize_host_port, parse_host_port

CANONICAL = [
    ("smtp.example.com:587", ("smtp.example.com", 587), "smtp.example.com:587"),
    (" SMTP.Example.COM.:0587 ", ("smtp.example.com", 587), "smtp.example.com:587"),
    ("192.0.2.1:25", ("192.0.2.1", 25), "192.0.2.1:25"),
    ("[2001:DB8:0::1]:587", ("2001:db8::1", 587), "[2001:db8::1]:587"),
    ("bücher.example:465", ("xn--bcher-kva.example", 465), "xn--bcher-kva.example:465"),
]


@pytest.mark.parametrize(("text", "parts", "written"), CANONICAL)
def test_every_reader_gives_the_same_form(text, parts, written):
    assert parse_host_port(text) == parts
    assert format_host_port(*parts) == written == normalize_host_port(text)
    assert parse_relay(text) == written  # --smtp-relay
    config = parse_config(f'[[path]]\nname = "a"\nsmtp = "{text}"\n')
    assert config.paths[0].smtp == written  # [[path]] smtp
    assert split_relay(written) == parts  # the probe reads what either wrote


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("smtp.example.com", "give HOST:PORT"),
        ("smtp.example.com:0", "give HOST:PORT"),
        ("smtp.example.com:65536", "give HOST:PORT"),
        (":587", "give HOST:PORT"),
        ("2001:db8::1:587", "an IPv6 address needs brackets"),
        ("[2001:db8::zz]:587", "is not an IPv6 address"),
        ("[2001:db8::1]", "give HOST:PORT"),
        ("bad..name:587", "bad..name"),
    ],
)
def test_bad_host_port_is_one_error_everywhere(text, says):
    with pytest.raises(ValueError) as info:
        parse_host_port(text)
    assert says in str(info.value)
    with pytest.raises(ValueError) as relay:
        parse_relay(text)
    assert str(relay.value).startswith(f"--smtp-relay {text!r} must be HOST:PORT")
