"""The seed list file: a good one loads with the presets, each mistake names its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.seed.config import (
    EXAMPLE_TOML,
    SeedConfigError,
    load_seeds,
    parse_seeds,
    password_for,
    passwords_for,
)

GOOD = """\
# two seeds
[[seed]]
address = "seed1@example.net"
imap = "imaps://imap.example.net:993"
username = "seed1"
password_env = "SEED1_PASSWORD"
provider = "generic"

[[seed]]
name = "gmail one"
address = "Someone.Seed@gmail.com"
imap = "imap://imap.gmail.com"
password_env = "SEED_GMAIL"
provider = "gmail"
spam = "Spam-override"
other = ["[Gmail]/All Mail"]
starttls = "required"

[[seed]]
address = "x@outlook.test"
imap = "imaps://[::1]:10993"
password_env = "X"
provider = "Outlook"
authserv_id = "mx.outlook.test"
"""


def _error(text: str) -> str:
    with pytest.raises(SeedConfigError) as info:
        parse_seeds(text, "seeds.toml")
    message = str(info.value)
    assert "\n" not in message
    return message


def test_good_file_with_presets_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "seeds.toml"
    path.write_text(GOOD)
    one, gmail, outlook = load_seeds(path)

    assert (one.imap_host, one.imap_port, one.imap_tls) == ("imap.example.net", 993, "implicit")
    assert (one.username, one.password_env, one.provider) == ("seed1", "SEED1_PASSWORD", "generic")
    assert (one.inbox, one.spam, one.authserv_id, one.line) == ("INBOX", ("Junk", "Spam"), None, 2)
    assert one.folders() == [("INBOX", "inbox"), ("Junk", "spam"), ("Spam", "spam")]

    assert (gmail.imap_port, gmail.imap_tls, gmail.starttls) == (143, "starttls", "required")
    assert gmail.username == "Someone.Seed@gmail.com"  # defaults to the address
    assert (gmail.spam, gmail.authserv_id, gmail.label) == (
        ("Spam-override",),
        "mx.google.com",
        "gmail one",
    )
    assert gmail.folders()[-1] == ("[Gmail]/All Mail", "other")

    assert (outlook.provider, outlook.imap_host, outlook.imap_port) == ("outlook", "::1", 10993)
    assert (outlook.spam, outlook.authserv_id) == (("Junk", "Junk Email"), "mx.outlook.test")


def test_presets() -> None:
    text = "".join(
        f'[[seed]]\naddress = "s{i}@{p}.test"\nimap = "imaps://h"\npassword_env = "P"\n'
        f'provider = "{p}"\n'
        for i, p in enumerate(("gmail", "outlook", "yahoo", "generic"))
    )
    seeds = {s.provider: s for s in parse_seeds(text)}
    assert seeds["gmail"].spam == ("[Gmail]/Spam",)
    assert seeds["gmail"].authserv_id == "mx.google.com"
    assert seeds["outlook"].spam == ("Junk", "Junk Email")
    assert seeds["yahoo"].spam == ("Bulk", "Bulk Mail", "Spam")
    assert seeds["generic"].spam == ("Junk", "Spam")
    assert all(s.inbox == "INBOX" and s.other == () for s in seeds.values())
    assert all(seeds[p].authserv_id is None for p in ("outlook", "yahoo", "generic"))


def test_example_loads_cleanly() -> None:
    seeds = parse_seeds(EXAMPLE_TOML, "example.toml")
    assert [s.provider for s in seeds] == ["generic", "gmail"]
    assert all(s.password_env for s in seeds)


def test_empty_authserv_id_means_topmost() -> None:
    (seed,) = parse_seeds(
        '[[seed]]\naddress = "a@gmail.com"\nimap = "imaps://h"\npassword_env = "P"\n'
        'provider = "gmail"\nauthserv_id = ""\n'
    )
    assert seed.authserv_id is None


SEED = '[[seed]]\naddress = "a@b.test"\nimap = "imaps://h.test"\npassword_env = "P"\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[seed]\n", "seeds.toml:1: invalid TOML: "),
        (SEED + 'name = "x\n', "seeds.toml:5: invalid TOML: "),
        ("# nothing\n", "seeds.toml:1: no [[seed]] table"),
        ("seed = []\n", "seeds.toml:1: no seeds"),
        ("\n\nseeds = 1\n", "seeds.toml:3: unknown key 'seeds'"),
        (
            SEED + "\n" + SEED.replace("a@b", "c@d") + 'colour = "red"\n',
            "seeds.toml:10: unknown key 'colour'",
        ),
        (SEED + 'password = "hunter2"\n', "seeds.toml:5: `password` is not allowed"),
        (SEED.replace('password_env = "P"\n', ""), "seeds.toml:1: [[seed]] has no 'password_env'"),
        (SEED.replace("a@b.test", "not an address"), "seeds.toml:2: address 'not an address'"),
        (SEED.replace("a@b.test", "a@b"), "seeds.toml:2: address 'a@b' is not a valid address"),
        (
            SEED + "\n" + SEED.replace("a@b", "A@B"),
            "seeds.toml:7: duplicate seed address A@B.test (first at line 1)",
        ),
        (
            SEED.replace("imaps://h.test", "https://h.test"),
            "seeds.toml:3: imap 'https://h.test': the scheme",
        ),
        (SEED.replace("imaps://h.test", "imaps://h.test:143"), "port 143 is the STARTTLS port"),
        (SEED.replace("imaps://h.test", "imap://h.test:993"), "port 993 is implicit TLS"),
        (
            SEED.replace("imaps://h.test", "imap://h.test:99999"),
            "seeds.toml:3: imap 'imap://h.test:99999': the port",
        ),
        (SEED.replace("imaps://h.test", "imaps://u:pw@h.test"), "no user or password in the URL"),
        (SEED.replace("imaps://h.test", "imaps://h.test/INBOX"), "no path or query"),
        (SEED + 'provider = "aol"\n', "seeds.toml:5: unknown provider 'aol'"),
        (SEED + 'starttls = "required"\n', "seeds.toml:5: starttls applies to imap:// URLs only"),
        (
            SEED.replace("imaps:", "imap:") + 'starttls = "maybe"\n',
            "seeds.toml:5: starttls must be one of",
        ),
        (SEED + "spam = [1]\n", "seeds.toml:5: spam must be a list of folder names"),
        (SEED + "inbox = 3\n", "seeds.toml:5: inbox must be a string, not a number"),
        (SEED.replace('"P"', '"my secret!"'), "seeds.toml:4: password_env must be the NAME"),
    ],
)
def test_errors_name_the_line(text: str, expected: str) -> None:
    assert expected in _error(text)


def test_password_env_error_does_not_echo_the_value() -> None:
    message = _error(SEED.replace('"P"', '"my secret!"'))
    assert "my secret!" not in message


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(SeedConfigError, match="cannot read the seed list"):
        load_seeds(tmp_path / "missing.toml")
    path = tmp_path / "latin1.toml"
    path.write_bytes(SEED.encode() + b'name = "M\xfcller"\n')
    with pytest.raises(SeedConfigError) as info:
        load_seeds(path)
    assert str(info.value) == f"{path}:5: not UTF-8 text (TOML files are UTF-8)"


def test_password_for_names_the_variable_never_a_value() -> None:
    (seed,) = parse_seeds(SEED.replace('"P"', '"SEED_PW"'))
    assert password_for(seed, {"SEED_PW": "pw1"}) == "pw1"
    with pytest.raises(SeedConfigError) as info:
        password_for(seed, {"OTHER": "pw1"})
    assert str(info.value) == "SEED_PW is not set: it holds the IMAP password of a@b.test"
    with pytest.raises(SeedConfigError, match="SEED_PW is empty"):
        password_for(seed, {"SEED_PW": ""})


def test_passwords_for_lists_every_missing_variable() -> None:
    seeds = parse_seeds(SEED + "\n" + SEED.replace("a@b", "c@d").replace('"P"', '"Q"'))
    assert passwords_for(seeds, {"P": "1", "Q": "2"}) == {"a@b.test": "1", "c@d.test": "2"}
    with pytest.raises(SeedConfigError) as info:
        passwords_for(seeds, {"Q": "secret-q"})
    assert str(info.value) == "password variables not set: P (for a@b.test)"
