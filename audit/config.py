"""The project config: what a team audits, how, and which findings it has accepted.

Found as `audit.toml` in the working directory or a parent, or as `[tool.audit]` in a
`pyproject.toml` there (the nearest directory holding either wins; audit.toml before pyproject in
the same directory), or given with `--config FILE`. Command-line options override it: every
scalar here is None when the file does not set it, so the command line can tell "not set" from
"set to the default".

Every problem is a ConfigError whose str() is one line, `FILE:LINE: key: what`: tomllib gives no
line numbers for values, so audit.tomlfile.KeyLines finds the key's line in the text. Relative
paths in the file (`messages` globs, `formats` outputs, `baseline`) are relative to the file's
directory, so `audit check` means the same thing from any working directory.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit.domains import normalize_domain, normalize_host_port, normalize_selector
from audit.tomlfile import KeyLines, KeyPath, decode_error, toml_type

CONFIG_NAME = "audit.toml"
PYPROJECT = "pyproject.toml"
# The report formats (reports.FORMATS; the engine does not import the renderers, a unit test
# keeps the two equal).
REPORT_FORMATS = ("terminal", "json", "html", "sarif", "junit", "markdown", "jsonl")
SEVERITIES = ("info", "low", "medium", "high", "critical")
STDOUT = "-"

TOP_KEYS = (
    "domains",
    "domain",
    "path",
    "messages",
    "fail_on",
    "formats",
    "dns_servers",
    "timeout",
    "allow_private_addresses",
    "probes",
    "ignore",
    "baseline",
    "esp_profiles",
)
DOMAIN_KEYS = ("dkim_selectors",)
PATH_KEYS = ("name", "esp", "ips", "helo", "return_path", "dkim_selectors", "smtp", "domains")
IGNORE_KEYS = ("rule", "target", "reason", "until")


@dataclass(frozen=True)
class PathConfig:
    """A declared sending path (`[[path]]`): how mail leaves for one stream of mail."""

    name: str
    esp: str | None
    ips: tuple[str, ...]
    helo: str | None
    return_path: str | None
    dkim_selectors: tuple[str, ...]
    smtp: str | None  # "host:port" submission relay
    domains: tuple[str, ...] = ()  # the declared domains this path sends for (empty: all)

    def sends_for(self, domain: str) -> bool:
        return not self.domains or domain in self.domains


@dataclass(frozen=True)
class Ignore:
    """An accepted finding (`[[ignore]]`): `rule` on `target` (any target when None; a
    shell-style pattern such as `*.example.com` allowed), for `reason`, until `until`."""

    rule: str
    target: str | None
    reason: str
    until: dt.date | None
    line: int = 0

    def expired(self, today: dt.date) -> bool:
        """Past its date: the `until` day itself is still covered."""
        return self.until is not None and today > self.until


@dataclass(frozen=True)
class ProjectConfig:
    """What audit.toml declares. None means "not set here" (the command line's default)."""

    source: Path | None
    domains: tuple[str, ...]
    paths: tuple[PathConfig, ...]
    dkim_selectors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # per domain
    messages: tuple[str, ...] = ()  # glob patterns, relative to the file's directory
    fail_on: str | None = None
    formats: tuple[tuple[str, str], ...] = ()  # (format, output path or "-" for stdout)
    dns_servers: tuple[str, ...] = ()
    timeout: float | None = None
    allow_private_addresses: bool | None = None
    probes: bool | None = None  # false: DNS only (CI runners often block outbound port 25)
    ignores: tuple[Ignore, ...] = ()
    baseline: str | None = None
    esp_profiles: str | None = None  # a directory of extra ESP profiles, relative to the file

    @property
    def esp_profiles_dir(self) -> Path | None:
        return self.resolve(self.esp_profiles) if self.esp_profiles else None

    @property
    def base_dir(self) -> Path:
        """Where relative paths in the file start from."""
        return self.source.parent if self.source is not None else Path.cwd()

    def selectors_for(self, domain: str) -> tuple[str, ...]:
        return self.dkim_selectors.get(domain, ())

    def resolve(self, path: str) -> Path:
        """A path from the file, relative to its directory."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.base_dir / candidate


class ConfigError(ValueError):
    """A config file that cannot be used; str() is `FILE:LINE: key: what`."""

    def __init__(self, path: Path | str | None, line: int | None, key: str, what: str) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.key = key
        self.what = what
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path or "<config>"
        if self.line:
            where = f"{where}:{self.line}"
        return f"{where}: {self.key}: {self.what}" if self.key else f"{where}: {self.what}"


# --- finding the file ---------------------------------------------------------------------


def display_path(path: Path) -> str:
    """Relative to the working directory when below it (messages, SARIF artifact paths)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError):
        return str(path)


def find_config(start: Path | None = None) -> Path | None:
    """The nearest audit.toml, or pyproject.toml with a [tool.audit] table, from `start` up."""
    directory = (start or Path.cwd()).resolve()
    for folder in (directory, *directory.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
        pyproject = folder / PYPROJECT
        if pyproject.is_file() and _has_tool_audit(pyproject):
            return pyproject
    return None


def _has_tool_audit(path: Path) -> bool:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False  # not ours to judge: a broken pyproject without [tool.audit] is skipped
    tool = doc.get("tool")
    return isinstance(tool, dict) and "audit" in tool


def load_config(explicit: Path | None = None, start: Path | None = None) -> ProjectConfig | None:
    """The config given with --config (`explicit`), else the nearest one found from `start`
    (default: the working directory), else None. ConfigError for anything wrong in it."""
    path = explicit if explicit is not None else find_config(start)
    if path is None:
        return None
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(path, None, "", f"cannot read the config file: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(path, line, "", "not UTF-8 text (TOML files are UTF-8)") from None
    pyproject = Path(path).name == PYPROJECT
    try:
        return parse_config(text, Path(path), pyproject=pyproject)
    except ConfigError as exc:
        # the name as the user would type it, not the absolute path discovery found
        raise ConfigError(display_path(Path(path)), exc.line, exc.key, exc.what) from None


def parse_config(text: str, path: Path | None = None, *, pyproject: bool = False) -> ProjectConfig:
    """The config in TOML `text` (`[tool.audit]` of it when `pyproject`)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, message = decode_error(exc, text)
        raise ConfigError(path, line, "", f"invalid TOML: {message}") from None
    prefix: KeyPath = ()
    if pyproject:
        prefix = ("tool", "audit")
        tool = doc.get("tool")
        table = tool.get("audit") if isinstance(tool, dict) else None
        if table is None:
            raise ConfigError(path, 1, "tool.audit", "no [tool.audit] table in this pyproject.toml")
        doc = table
    return _Parser(path, KeyLines(text), prefix).config(doc)


# --- validation ---------------------------------------------------------------------------


class _Parser:
    """Validates the document, raising ConfigError at the first problem with its line."""

    def __init__(self, path: Path | None, lines: KeyLines, prefix: KeyPath) -> None:
        self.path = path
        self.lines = lines
        self.prefix = prefix

    def fail(self, at: KeyPath, what: str) -> ConfigError:
        full = (*self.prefix, *at)
        return ConfigError(self.path, self.lines.line(full), _key_name(full), what)

    def config(self, doc: Any) -> ProjectConfig:
        if not isinstance(doc, dict):
            raise self.fail((), "must be a table")
        self.unknown(doc, (), TOP_KEYS)
        domains = tuple(
            dict.fromkeys(self.names(doc, ("domains",), normalize_domain, "a domain name"))
        )
        selectors = self.domain_tables(doc, domains)
        fail_on = self.string(doc, ("fail_on",))
        if fail_on is not None:
            fail_on = fail_on.strip().lower()
            if fail_on not in SEVERITIES:
                raise self.fail(("fail_on",), f"must be one of {', '.join(SEVERITIES)}")
        return ProjectConfig(
            source=self.path,
            domains=domains,
            paths=self.paths(doc, domains),
            dkim_selectors=selectors,
            messages=tuple(self.strings(doc, ("messages",))),
            fail_on=fail_on,
            formats=self.formats(doc),
            dns_servers=tuple(self.names(doc, ("dns_servers",), _dns_server, "a DNS server")),
            timeout=self.timeout(doc),
            allow_private_addresses=self.boolean(doc, ("allow_private_addresses",)),
            probes=self.boolean(doc, ("probes",)),
            ignores=self.ignores(doc),
            baseline=self.string(doc, ("baseline",), non_empty=True),
            esp_profiles=self.esp_profiles(doc),
        )

    def esp_profiles(self, doc: Mapping[str, Any]) -> str | None:
        """The `esp_profiles` directory: it must hold profiles that load (what `audit domain
        --esp-profiles` requires of its directory)."""
        from audit.esp.profiles import ProfileError, load_profiles

        raw = self.string(doc, ("esp_profiles",), non_empty=True)
        if raw is None:
            return None
        base = self.path.parent if self.path is not None else Path.cwd()
        directory = Path(raw).expanduser()
        try:
            load_profiles(directory if directory.is_absolute() else base / directory)
        except ProfileError as exc:
            raise self.fail(("esp_profiles",), str(exc)) from None
        return raw

    # -- generic values --

    def get(self, at: KeyPath, doc: Mapping[str, Any]) -> Any:
        return doc.get(str(at[-1]))

    def unknown(self, table: Mapping[str, Any], at: KeyPath, known: tuple[str, ...]) -> None:
        for key in table:
            if key not in known:
                raise self.fail((*at, key), f"unknown key (known: {', '.join(known)})")

    def string(
        self, table: Mapping[str, Any], at: KeyPath, *, non_empty: bool = False
    ) -> str | None:
        value = table.get(str(at[-1]))
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(at, f"must be a string, not {toml_type(value)}")
        if non_empty and not value.strip():
            raise self.fail(at, "must not be empty")
        return value

    def strings(self, table: Mapping[str, Any], at: KeyPath) -> list[str]:
        value = table.get(str(at[-1]))
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.fail(at, f"must be a list of strings, not {toml_type(value)}")
        for item in value:
            if not isinstance(item, str) or not item.strip():
                raise self.fail(at, f"must be a list of non-empty strings, not {item!r}")
        return [v.strip() for v in value]

    def names(
        self, table: Mapping[str, Any], at: KeyPath, parse: Callable[[str], str], what: str
    ) -> list[str]:
        out = []
        for item in self.strings(table, at):
            try:
                out.append(parse(item))
            except ValueError as exc:
                raise self.fail(at, _reason(exc, item, what)) from None
        return out

    def name(
        self, table: Mapping[str, Any], at: KeyPath, parse: Callable[[str], str], what: str
    ) -> str | None:
        value = self.string(table, at)
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as exc:
            raise self.fail(at, _reason(exc, value, what)) from None

    def boolean(self, table: Mapping[str, Any], at: KeyPath) -> bool | None:
        value = table.get(str(at[-1]))
        if value is not None and not isinstance(value, bool):
            raise self.fail(at, f"must be true or false, not {toml_type(value)}")
        return value

    def tables(self, doc: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
        value = doc.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
            raise self.fail((key,), f"must be [[{key}]] tables")
        return value

    # -- sections --

    def timeout(self, doc: Mapping[str, Any]) -> float | None:
        value = doc.get("timeout")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(("timeout",), f"must be a number of seconds, not {toml_type(value)}")
        if not (math.isfinite(value) and value > 0):
            raise self.fail(("timeout",), "must be a positive number of seconds")
        return float(value)

    def domain_tables(
        self, doc: Mapping[str, Any], domains: tuple[str, ...]
    ) -> dict[str, tuple[str, ...]]:
        tables = doc.get("domain")
        if tables is None:
            return {}
        if not isinstance(tables, dict):
            raise self.fail(("domain",), 'must be tables: [domain."example.com"]')
        out: dict[str, tuple[str, ...]] = {}
        for raw, table in tables.items():
            at: KeyPath = ("domain", raw)
            if not isinstance(table, dict):
                raise self.fail(at, 'must be a table: [domain."example.com"]')
            try:
                name = normalize_domain(raw)
            except ValueError as exc:
                raise self.fail(at, _reason(exc, raw, "a domain name")) from None
            if name not in domains:
                raise self.fail(at, f"{name} is not in `domains` (add it there to audit it)")
            self.unknown(table, at, DOMAIN_KEYS)
            found = self.names(table, (*at, "dkim_selectors"), normalize_selector, "a selector")
            out[name] = tuple(dict.fromkeys(found))
        return out

    def paths(self, doc: Mapping[str, Any], domains: tuple[str, ...]) -> tuple[PathConfig, ...]:
        out: list[PathConfig] = []
        seen: set[str] = set()
        for index, table in enumerate(self.tables(doc, "path")):
            at: KeyPath = ("path", index)
            self.unknown(table, at, PATH_KEYS)
            name = self.string(table, (*at, "name"), non_empty=True)
            if name is None:
                raise self.fail(at, "[[path]] needs a name")
            name = name.strip()
            if name in seen:
                raise self.fail((*at, "name"), f"duplicate path name {name!r}")
            seen.add(name)
            esp = self.string(table, (*at, "esp"), non_empty=True)
            sends_for = tuple(
                dict.fromkeys(
                    self.names(table, (*at, "domains"), normalize_domain, "a domain name")
                )
            )
            stray = [d for d in sends_for if d not in domains]
            if stray:
                raise self.fail(
                    (*at, "domains"), f"{stray[0]} is not in `domains` (add it there to audit it)"
                )
            out.append(
                PathConfig(
                    name=name,
                    esp=esp.strip().lower() if esp else None,
                    ips=tuple(self.names(table, (*at, "ips"), _ip, "an IP address")),
                    helo=self.name(table, (*at, "helo"), normalize_domain, "a host name"),
                    return_path=self.name(
                        table, (*at, "return_path"), normalize_domain, "a domain name"
                    ),
                    dkim_selectors=tuple(
                        self.names(
                            table, (*at, "dkim_selectors"), normalize_selector, "a selector"
                        )
                    ),
                    smtp=self.name(table, (*at, "smtp"), _host_port, "HOST:PORT"),
                    domains=sends_for,
                )
            )
        return tuple(out)

    def formats(self, doc: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
        value = doc.get("formats")
        if value is None:
            return ()
        if not isinstance(value, dict):
            raise self.fail(
                ("formats",), 'must be a table: [formats] json = "report.json", terminal = "-"'
            )
        out = []
        for fmt in value:
            at: KeyPath = ("formats", fmt)
            if fmt not in REPORT_FORMATS:
                raise self.fail(at, f"unknown format (known: {', '.join(REPORT_FORMATS)})")
            output = self.string(value, at, non_empty=True)
            out.append((fmt, (output or "").strip()))
        if sum(1 for _, output in out if output == STDOUT) > 1:
            raise self.fail(("formats",), 'only one format can go to standard output ("-")')
        return tuple(out)

    def ignores(self, doc: Mapping[str, Any]) -> tuple[Ignore, ...]:
        from audit.rules import get_rule

        out: list[Ignore] = []
        for index, table in enumerate(self.tables(doc, "ignore")):
            at: KeyPath = ("ignore", index)
            self.unknown(table, at, IGNORE_KEYS)
            rule_id = self.string(table, (*at, "rule"), non_empty=True)
            if rule_id is None:
                raise self.fail(at, "[[ignore]] needs a rule (e.g. rule = \"DMARC101\")")
            rule = get_rule(rule_id)
            if rule is None:
                raise self.fail((*at, "rule"), f"unknown rule id {rule_id!r} (see 'audit rules')")
            reason = self.string(table, (*at, "reason"), non_empty=True)
            if reason is None:
                raise self.fail(at, "[[ignore]] needs a reason: say why this is accepted")
            target = self.string(table, (*at, "target"), non_empty=True)
            out.append(
                Ignore(
                    rule=rule.id,
                    target=target.strip().rstrip(".").lower() if target else None,
                    reason=reason.strip(),
                    until=self.date(table, (*at, "until")),
                    line=self.lines.line((*self.prefix, *at)),
                )
            )
        return tuple(out)

    def date(self, table: Mapping[str, Any], at: KeyPath) -> dt.date | None:
        value = table.get(str(at[-1]))
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise self.fail(at, f"must be a date like 2026-12-31, not {value!r}")


def _key_name(path: KeyPath) -> str:
    """("path", 1, "ips") -> "path.ips"; the line tells which [[path]]."""
    parts = []
    for part in path:
        if isinstance(part, int):
            continue
        text = str(part)
        parts.append(text if text.replace("_", "").replace("-", "").isalnum() else f'"{text}"')
    return ".".join(parts)


def _reason(exc: ValueError, value: str, what: str) -> str:
    """The parser's own words when they name the value, else "'x' is not <what>: why"."""
    text = str(exc)
    return text if repr(value) in text else f"{value!r} is not {what}: {text}"


def _ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise ValueError(f"{text!r} is not an IPv4 or IPv6 address") from None


def _dns_server(text: str) -> str:
    from audit.net.dns import ServerAddress

    ServerAddress.parse(text)
    return text.strip()


def _host_port(text: str) -> str:
    """`smtp.example.com:587` or `[2001:db8::1]:587` (the port is required)."""
    return normalize_host_port(text)
