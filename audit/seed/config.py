"""The seed list: a TOML file of mailboxes the test message goes to and is read back from.

Only the *name* of the variable holding each password is in the file (`password_env`); the
password itself never is, so the file can be committed and shared. Every problem is reported as
one line, `FILE:LINE: what is wrong`, pointing at the offending key or `[[seed]]` table.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from audit.tomlfile import decode_error as _decode_error
from audit.tomlfile import toml_type as _toml_type

IMAPS_PORT = 993
IMAP_PORT = 143


@dataclass(frozen=True)
class Preset:
    """Where a provider puts mail: the inbox folder, the spam folders, whose A-R to trust."""

    inbox: str
    spam: tuple[str, ...]
    authserv_id: str | None  # None: trust the topmost Authentication-Results


# Gmail's "[Gmail]/All Mail" holds every message (inbox and archived alike) and its categories
# (Promotions, Social, ...) are labels on INBOX messages, not folders: neither is a placement.
# Localised Gmail names ("[Google Mail]/Spam") are found anyway: the collector also searches any
# folder the server flags \Junk (RFC 6154).
PRESETS: dict[str, Preset] = {
    "gmail": Preset("INBOX", ("[Gmail]/Spam",), "mx.google.com"),
    "outlook": Preset("INBOX", ("Junk", "Junk Email"), None),
    "yahoo": Preset("INBOX", ("Bulk", "Bulk Mail", "Spam"), None),
    "generic": Preset("INBOX", ("Junk", "Spam"), None),
}

StartTLS = Literal["optional", "required", "never"]
STARTTLS_MODES = ("optional", "required", "never")

KEYS = (
    "address",
    "imap",
    "username",
    "password_env",
    "provider",
    "inbox",
    "spam",
    "other",
    "authserv_id",
    "name",
    "starttls",
    "receive",
)
REQUIRED = ("address", "imap", "password_env")
# Keys that mean nothing for a `receive` seed (the local `audit receive` inbox, read without IMAP)
IMAP_ONLY = ("imap", "password_env", "username", "starttls", "provider", "inbox", "spam", "other")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class Seed:
    """One seed mailbox: where the test message goes and how to read it back over IMAP."""

    address: str
    imap: str  # the URL as written: imaps://host:993 (implicit TLS) or imap://host:143
    imap_host: str
    imap_port: int
    imap_tls: Literal["implicit", "starttls"]
    username: str
    password_env: str  # the NAME of the environment variable; never the password
    provider: str = "generic"
    starttls: StartTLS = "optional"  # imap:// only: use STARTTLS when offered / insist / never
    inbox: str = "INBOX"
    spam: tuple[str, ...] = ()
    other: tuple[str, ...] = ()  # searched last; a copy found there is placement "other"
    authserv_id: str | None = None  # which Authentication-Results to trust; None: the topmost
    name: str | None = None
    line: int = 0  # the line of its [[seed]] table, for messages
    receive: str | None = None  # an `audit receive` inbox state file: read there, not over IMAP

    @property
    def label(self) -> str:
        return self.name or self.address

    def folders(self) -> list[tuple[str, str]]:
        """(folder, placement) in search order: a copy in INBOX and in an "other" folder (say
        Gmail's All Mail) is an inbox copy."""
        out = [(self.inbox, "inbox")]
        out += [(f, "spam") for f in self.spam if f != self.inbox]
        seen = {f for f, _ in out}
        out += [(f, "other") for f in self.other if f not in seen]
        return out


class SeedConfigError(ValueError):
    """A bad seed list or a missing password variable; str() is one line for the user."""

    def __init__(self, path: str | os.PathLike[str] | None, line: int | None, message: str):
        self.path = str(path) if path is not None else None
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.path is None:
            return self.message
        where = self.path
        if self.line:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}"


EXAMPLE_TOML = """\
# Seed mailboxes for `audit seed run --seeds FILE`.
#
# One [[seed]] table per mailbox. The test message goes to `address`, and is read back over IMAP
# from the folders of the provider preset (or the overrides below). Passwords are never written
# here: `password_env` names the environment variable that holds it, for example
#     export SEED1_PASSWORD='...'
# Gmail, Outlook and Yahoo need an app password (or an IMAP-enabled account) for this.

[[seed]]
address = "seed1@example.net"
imap = "imaps://imap.example.net:993"   # imaps:// implicit TLS; imap://host:143 uses STARTTLS
username = "seed1@example.net"          # defaults to the address
password_env = "SEED1_PASSWORD"         # the variable holding the password; never the password
provider = "generic"                    # gmail | outlook | yahoo | generic: folder presets
# name = "example.net, own server"      # a label for the reports
# inbox = "INBOX"                       # optional overrides of the preset
# spam = ["Junk", "Spam"]
# other = ["Archive"]                   # more folders to look in; a copy there is "other"
# starttls = "required"                 # imap:// only: optional (default) | required | never
# authserv_id = "mx.example.net"        # trust only Authentication-Results from this receiver

[[seed]]
address = "someone.seed@gmail.com"
imap = "imaps://imap.gmail.com:993"
password_env = "SEED_GMAIL_PASSWORD"
provider = "gmail"                      # INBOX and [Gmail]/Spam; A-R from mx.google.com

# The local `audit receive` inbox as a seed: read from its state file, no IMAP, and a receiver
# whose verdict is exact (it knows the true envelope). Issue the address with `audit receive new`.
# [[seed]]
# address = "t-7f3k2qmd4x...@inbox.example.com"
# receive = true                        # or the inbox's --state file: "/path/receive.sqlite3"
"""


# --- line numbers -------------------------------------------------------------------------

_TABLE = re.compile(r"\s*\[")
_SEED_TABLE = re.compile(r"""\s*\[\[\s*(?:seed|"seed"|'seed')\s*\]\]""")


class _Lines:
    """Finds the line of a [[seed]] table, or of a key inside it, by scanning the text."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.tables: list[tuple[int, int]] = []  # (first, last) 1-based, per [[seed]]
        starts = [i for i, line in enumerate(self.lines) if _SEED_TABLE.match(line)]
        for start in starts:
            end = len(self.lines)
            for j in range(start + 1, len(self.lines)):
                if _TABLE.match(self.lines[j]):
                    end = j
                    break
            self.tables.append((start + 1, end))

    def table(self, index: int) -> int:
        return self.tables[index][0] if index < len(self.tables) else 1

    def key(self, index: int, key: str) -> int:
        if index >= len(self.tables):
            return self.top_key(key)
        first, last = self.tables[index]
        pattern = re.compile(
            rf"""\s*(?:{re.escape(key)}|"{re.escape(key)}"|'{re.escape(key)}')\s*="""
        )
        for number in range(first, last + 1):
            if pattern.match(self.lines[number - 1]):
                return number
        return first

    def top_key(self, key: str) -> int:
        pattern = re.compile(rf"""\s*\[*\s*(?:{re.escape(key)}|"{re.escape(key)}")\s*[=\]]""")
        for number, line in enumerate(self.lines, 1):
            if pattern.match(line):
                return number
        return 1


# --- loading ------------------------------------------------------------------------------


def load_seeds(path: str | os.PathLike[str]) -> list[Seed]:
    """The seeds of a TOML seed list; SeedConfigError on the first problem found."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SeedConfigError(path, None, f"cannot read the seed list: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SeedConfigError(path, line, "not UTF-8 text (TOML files are UTF-8)") from None
    return parse_seeds(text, path)


def parse_seeds(text: str, path: str | os.PathLike[str] | None = None) -> list[Seed]:
    """The seeds of TOML text (what load_seeds reads); path is for the messages only."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, message = _decode_error(exc, text)
        raise SeedConfigError(path, line, f"invalid TOML: {message}") from None
    lines = _Lines(text)

    def fail(line: int, message: str) -> SeedConfigError:
        return SeedConfigError(path, line, message)

    for key in doc:
        if key != "seed":
            raise fail(lines.top_key(key), f"unknown key {key!r} (the file holds [[seed]] tables)")
    tables = doc.get("seed")
    if tables is None:
        raise fail(1, "no [[seed]] table: at least one seed mailbox is needed")
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise fail(lines.top_key("seed"), "`seed` must be [[seed]] tables")
    if not tables:
        raise fail(lines.top_key("seed"), "no seeds: at least one seed mailbox is needed")

    seeds: list[Seed] = []
    first_line: dict[str, int] = {}
    for index, table in enumerate(tables):
        seed = _seed(table, index, lines, fail)
        key = seed.address.lower()
        if key in first_line:
            raise fail(
                lines.key(index, "address"),
                f"duplicate seed address {seed.address} (first at line {first_line[key]})",
            )
        first_line[key] = seed.line
        seeds.append(seed)
    return seeds


@dataclass
class _SeedTable:
    """One [[seed]] table: typed reads that fail with the line of the key they read."""

    table: dict[str, Any]
    index: int
    lines: _Lines
    fail: Any  # (line, message) -> the exception to raise

    def where(self, key: str) -> int:
        return self.lines.key(self.index, key)

    def string(self, key: str, default: str | None = None) -> str | None:
        value = self.table.get(key, default)
        if value is not None and not isinstance(value, str):
            raise self.fail(self.where(key), f"{key} must be a string, not {_toml_type(value)}")
        return value

    def folders(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        if key not in self.table:
            return default
        value = self.table[key]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(self.where(key), f"{key} must be a list of folder names")
        return tuple(value)


def _seed(table: dict[str, Any], index: int, lines: _Lines, fail) -> Seed:
    at = lines.table(index)
    read = _SeedTable(table, index, lines, fail)
    where = read.where
    if "password" in table:
        raise fail(
            where("password"),
            "`password` is not allowed in the seed list: put the password in an environment "
            'variable and name it with password_env = "VARIABLE"',
        )
    for key in table:
        if key not in KEYS:
            raise fail(where(key), f"unknown key {key!r} in [[seed]] (known: {', '.join(KEYS)})")
    if "receive" in table:
        return _receive_seed(table, at, where, fail)
    for key in REQUIRED:
        if key not in table:
            raise fail(at, f"[[seed]] has no {key!r}")
    address = (read.string("address") or "").strip()
    problem = address_problem(address)
    if problem:
        raise fail(where("address"), f"address {address!r} is not a valid address: {problem}")
    provider = (read.string("provider", "generic") or "").lower()
    if provider not in PRESETS:
        raise fail(
            where("provider"),
            f"unknown provider {table['provider']!r} (known: {', '.join(PRESETS)})",
        )
    preset = PRESETS[provider]
    imap, (host, port, tls), starttls = _imap_settings(read)
    password_env = read.string("password_env") or ""
    if not _ENV_NAME.match(password_env):
        raise fail(
            where("password_env"),
            f"password_env must be the NAME of an environment variable (letters, digits, _), "
            f"not {_redacted(password_env)}",
        )
    inbox = read.string("inbox", preset.inbox) or ""
    if not inbox:
        raise fail(where("inbox"), "inbox must be a folder name")
    authserv_id = read.string("authserv_id", preset.authserv_id)
    username = read.string("username", address) or ""
    if not username:
        raise fail(where("username"), "username must not be empty")
    return Seed(
        address=address,
        imap=imap,
        imap_host=host,
        imap_port=port,
        imap_tls=tls,
        username=username,
        password_env=password_env,
        provider=provider,
        starttls=starttls or "optional",  # type: ignore[arg-type]
        inbox=inbox,
        spam=read.folders("spam", preset.spam),
        other=read.folders("other", ()),
        authserv_id=authserv_id or None,  # "" means: trust the topmost
        name=read.string("name"),
        line=at,
    )


def _imap_settings(
    read: _SeedTable,
) -> tuple[str, tuple[str, int, Literal["implicit", "starttls"]], str | None]:
    """The imap URL as written, its (host, port, tls) and the starttls mode if given."""
    imap = read.string("imap") or ""
    try:
        endpoint = parse_imap_url(imap)
    except ValueError as exc:
        raise read.fail(read.where("imap"), f"imap {imap!r}: {exc}") from None
    starttls = read.string("starttls")
    if starttls is not None:
        if endpoint[2] == "implicit":
            raise read.fail(
                read.where("starttls"), "starttls applies to imap:// URLs only (imaps:// is TLS)"
            )
        if starttls not in STARTTLS_MODES:
            raise read.fail(
                read.where("starttls"),
                f"starttls must be one of {', '.join(STARTTLS_MODES)}, not {starttls!r}",
            )
    return imap, endpoint, starttls


def _receive_seed(table: dict[str, Any], at: int, where, fail) -> Seed:
    """`receive = "inbox.sqlite3"` (or true: the default inbox): the seed is a test address of
    the local `audit receive` inbox, whose copy and verdict are read from its state file."""
    from audit.receive.store import default_inbox_path
    from audit.receive.tokens import split_recipient, token_of

    for key in IMAP_ONLY:
        if key in table:
            raise fail(where(key), f"{key} does not apply to a receive seed (no IMAP)")
    state = table["receive"]
    if state is True:
        state = str(default_inbox_path())
    if not isinstance(state, str) or not state.strip():
        raise fail(where("receive"), "receive must be the inbox state file (a path) or true")
    address = table.get("address")
    if not isinstance(address, str):
        raise fail(where("address") if "address" in table else at, "[[seed]] has no 'address'")
    try:
        token_of(address)
        domain = split_recipient(address)[1]
    except ValueError:
        raise fail(
            where("address"),
            f"address {address!r} is not a test address (issue one with `audit receive new`)",
        ) from None
    name = table.get("name")
    if name is not None and not isinstance(name, str):
        raise fail(where("name"), f"name must be a string, not {_toml_type(name)}")
    authserv_id = table.get("authserv_id", domain)
    if not isinstance(authserv_id, str):
        raise fail(where("authserv_id"), "authserv_id must be a string")
    return Seed(
        address=address.strip(),
        imap="",
        imap_host="",
        imap_port=0,
        imap_tls="implicit",
        username="",
        password_env="",
        authserv_id=authserv_id or domain,
        name=name,
        line=at,
        receive=str(Path(state).expanduser()),
    )


def parse_imap_url(url: str) -> tuple[str, int, Literal["implicit", "starttls"]]:
    """(host, port, tls) of imaps://host[:993] or imap://host[:143]; ValueError says why not."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("imap", "imaps"):
        raise ValueError("the scheme must be imaps:// (implicit TLS) or imap:// (STARTTLS)")
    if parts.username is not None or parts.password is not None:
        raise ValueError("no user or password in the URL: use the username and password_env keys")
    if not parts.hostname:
        raise ValueError("no host name")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("only scheme://host:port is understood (no path or query)")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the port must be a number from 1 to 65535") from None
    if port == 0:
        raise ValueError("the port must be a number from 1 to 65535")
    if scheme == "imaps":
        if port == IMAP_PORT:
            raise ValueError(
                "port 143 is the STARTTLS port: use imap://HOST:143 or imaps://HOST:993"
            )
        return parts.hostname, port or IMAPS_PORT, "implicit"
    if port == IMAPS_PORT:
        raise ValueError("port 993 is implicit TLS: use imaps://HOST:993")
    return parts.hostname, port or IMAP_PORT, "starttls"


def address_problem(address: str) -> str | None:
    """Why a seed address is not a valid addr-spec (syntax only), or None."""
    from email_validator import EmailNotValidError, validate_email

    if not address:
        return "it is empty"
    try:
        validate_email(
            address, check_deliverability=False, test_environment=True, allow_quoted_local=True
        )
    except EmailNotValidError as exc:
        return str(exc)
    return None


def _redacted(value: str) -> str:
    """Someone may have put the password itself into password_env: never echo it."""
    return "an empty string" if not value else "the value given (not shown)"


# --- passwords ----------------------------------------------------------------------------


def password_for(seed: Seed, env: Mapping[str, str] | None = None) -> str:
    """The seed's IMAP password from its variable; the error names the variable, never a value."""
    env = os.environ if env is None else env
    value = env.get(seed.password_env)
    if not value:
        state = "is empty" if value == "" else "is not set"
        raise SeedConfigError(
            None, None, f"{seed.password_env} {state}: it holds the IMAP password of {seed.address}"
        )
    return value


def passwords_for(seeds: Iterable[Seed], env: Mapping[str, str] | None = None) -> dict[str, str]:
    """{address: password} for every seed; one error naming every missing variable."""
    env = os.environ if env is None else env
    out: dict[str, str] = {}
    missing: dict[str, list[str]] = {}
    for seed in seeds:
        if seed.receive is not None:
            continue  # read from the local inbox: no password
        try:
            out[seed.address] = password_for(seed, env)
        except SeedConfigError:
            missing.setdefault(seed.password_env, []).append(seed.address)
    if missing:
        names = ", ".join(f"{name} (for {', '.join(addrs)})" for name, addrs in missing.items())
        raise SeedConfigError(None, None, f"password variables not set: {names}")
    return out
