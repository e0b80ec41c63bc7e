"""What users type: domains (IDNA 2008, no silent change), --dns-server, protocol values."""

from __future__ import annotations

import pytest

from audit.cli_inputs import dns_server, protocol_value
from audit.domains import normalize_domain


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("Example.COM.", "example.com"),  # ASCII case folding and the root dot: same name
        ("bücher.de", "xn--bcher-kva.de"),
        ("BÜCHER.de", "xn--bcher-kva.de"),  # case folding of a U-label: same name
        ("bu\u0308cher.de", "xn--bcher-kva.de"),  # NFD typed, NFC meant: same name
        ("straße.de", "xn--strae-oqa.de"),  # IDNA 2008 keeps ß (non-transitional)
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
    ],
)
def test_names_that_are_what_was_typed(typed, name):
    assert normalize_domain(typed) == name


@pytest.mark.parametrize(
    ("typed", "mapped"),
    [
        ("exa\u200bmple.com", "example.com"),  # zero-width space silently dropped before
        ("ｅｘａｍｐｌｅ.com", "example.com"),  # full-width letters
        ("example\u3002com", "example.com"),  # ideographic full stop
        ("\u01c5.com", "d\u017e.com"),  # compatibility mapping of a titlecase digraph
    ],
)
def test_a_name_mapped_to_another_is_refused_naming_both(typed, mapped):
    with pytest.raises(ValueError) as info:
        normalize_domain(typed)
    message = str(info.value)
    assert repr(typed) in message and repr(mapped) in message
    assert "\n" not in message


@pytest.mark.parametrize("typed", ["😀.example.com", "\u2603.com", "xn--abc.de", "a\u200d.com"])
def test_names_idna_2008_does_not_allow(typed):
    with pytest.raises(ValueError, match="valid"):
        normalize_domain(typed)


@pytest.mark.parametrize(
    ("text", "server"),
    [
        ("192.0.2.1", ("192.0.2.1", 53)),
        (" 192.0.2.1:5353 ", ("192.0.2.1", 5353)),
        ("::1", ("::1", 53)),
        ("[::1]", ("::1", 53)),
        ("[2001:DB8::1]:5300", ("2001:db8::1", 5300)),
    ],
)
def test_dns_server_addresses(text, server):
    assert dns_server(text) == server


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[", "without its closing"),
        ("[::1", "without its closing"),
        ("::1]", "without its opening"),
        ("[::1]x", "only :PORT"),
        ("[::1]:", "port must be"),
        ("192.0.2.1:", "port must be"),
        ("192.0.2.1:0", "out of range"),
        ("192.0.2.1:65536", "out of range"),
        ("192.0.2.1:+53", "port must be"),
        ("[192.0.2.1]:53", "not an IPv6 address"),
        ("1:2:3", "not an IPv6 address"),
        ("300.1.1.1", "must be an IP address"),
        ("resolver.example", "must be an IP address"),
        ("", "empty"),
    ],
)
def test_dns_server_refused(text, says):
    with pytest.raises(ValueError, match=says):
        dns_server(text)


@pytest.mark.parametrize(
    "value", ["OEMCOMPUTER", "A2345678", "JUMPIN' JUPITER", "lyme.eater@A...example.com", "@x"]
)
def test_protocol_values_pass_through(value):
    assert protocol_value(f" {value} ", "--helo") == value


@pytest.mark.parametrize("value", ["a\r\nRCPT TO:<x@y>", "a\x00b", "line\n"])
def test_protocol_values_no_command_line_can_carry(value):
    with pytest.raises(ValueError, match="NUL, CR or LF"):
        protocol_value(value, "--helo")


@pytest.mark.parametrize(
    ("typed", "selector"),
    [("S1", "s1"), ("sél", "xn--sl-bja"), ("mail._x", "mail._x"), ("a..b", None)],
)
def test_dkim_selectors_as_a_labels(typed, selector):
    from audit.cli import _selector

    if selector is None:
        with pytest.raises(ValueError, match="not a valid DKIM selector"):
            _selector(typed)
    else:
        assert _selector(typed) == selector


@pytest.mark.parametrize(("typed", "mapped"), [("s\u00b2", "s2"), ("sel\u200bx", "selx")])
def test_dkim_selector_mapped_to_another_is_refused(typed, mapped):
    from audit.cli import _selector

    with pytest.raises(ValueError, match="--dkim-selector") as info:
        _selector(typed)
    assert repr(typed) in str(info.value) and repr(mapped) in str(info.value)
