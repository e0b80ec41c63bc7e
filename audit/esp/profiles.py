"""ESP provider profiles: what each provider asks its customers to publish, as data.

One TOML file per provider under `audit/esp/profiles/<id>.toml` (shipped as package data), plus
the user's own with `--esp-profiles DIR` (a relay of their own, a provider we lack). Facts come
from the providers' public documentation, cited in `sources`; every file is validated when it is
loaded (unknown keys, wrong types, missing sources, patterns that could match hosts outside one
provider) so a bad profile fails a test or the command line, never a check half-way.

Patterns are `fnmatch` patterns, matched case-insensitively against lower-case DNS names
without the trailing dot (`*` matches across dots too).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

from audit.dir_files import files_in
from audit.psl import is_public_suffix

BUILTIN_DIR = Path(__file__).parent / "profiles"
RECORD_TYPES = ("CNAME", "MX", "TXT")
GLOB_CHARS = set("*?[")

_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_PATTERN_CHARS = re.compile(r"[a-z0-9.*?_\-\[\]!]+")
_HOST = re.compile(r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z][a-z0-9-]*[a-z0-9]")
_MAX_FILE = 64 * 1024


@dataclass(frozen=True)
class ReturnPathSpec:
    """The custom return path (MAIL FROM / bounce domain) record a provider asks for."""

    record_type: str  # "CNAME" | "MX" | "TXT": what the provider asks the customer to publish
    name_patterns: tuple[str, ...]  # labels under the customer domain: ("em*",) ("pm-bounces",)
    target_patterns: tuple[str, ...]  # lower-case CNAME/MX targets: ("u*.wl*.sendgrid.net",)

    def literal_names(self) -> tuple[str, ...]:
        """The names that can be tried directly (`em*` cannot be enumerated)."""
        return tuple(n for n in self.name_patterns if not GLOB_CHARS & set(n))


@dataclass(frozen=True)
class EspProfile:
    """One provider: the records that mark it and the ones it asks its customers to publish."""

    id: str  # "sendgrid" (file name stem)
    name: str  # "SendGrid (Twilio)"
    spf_includes: tuple[str, ...]  # include: domains that mark this provider ("sendgrid.net",)
    dkim_selectors: tuple[str, ...]  # selector names/patterns the provider asks for ("s1", "s2")
    dkim_cname_patterns: tuple[str, ...]  # CNAME targets of <selector>._domainkey.<domain>
    default_envelope_domains: tuple[str, ...]  # MAIL FROM domain(s) without a custom return path
    return_path: ReturnPathSpec | None  # None: the provider offers no custom return path
    signs_own_domain: str | None  # d= it signs with when the customer's DKIM is missing
    mx_patterns: tuple[str, ...]  # MX host patterns for mailbox providers (Workspace, 365, Zoho)
    sources: tuple[str, ...]  # https URLs of the provider's public docs these facts come from
    notes: str = ""
    file: str = field(default="", compare=False)  # the TOML file it was loaded from

    def literal_selectors(self) -> tuple[str, ...]:
        """The DKIM selectors that can be tried directly (`hs1-*` cannot be enumerated)."""
        return tuple(s for s in self.dkim_selectors if not GLOB_CHARS & set(s))

    def detected_by(self) -> list[str]:
        """What marks this provider in DNS, one phrase per kind (for `audit esp list`)."""
        out = []
        if self.spf_includes:
            out.append("include:" + ",".join(self.spf_includes))
        if self.dkim_cname_patterns:
            out.append("DKIM CNAME " + ",".join(self.dkim_cname_patterns))
        if self.return_path and self.return_path.target_patterns:
            rp = self.return_path
            out.append(f"return path {rp.record_type} " + ",".join(rp.target_patterns))
        if self.mx_patterns:
            out.append("MX " + ",".join(self.mx_patterns))
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "spf_includes": list(self.spf_includes),
            "dkim_selectors": list(self.dkim_selectors),
            "dkim_cname_patterns": list(self.dkim_cname_patterns),
            "default_envelope_domains": list(self.default_envelope_domains),
            "return_path": None
            if self.return_path is None
            else {
                "record_type": self.return_path.record_type,
                "name_patterns": list(self.return_path.name_patterns),
                "target_patterns": list(self.return_path.target_patterns),
            },
            "signs_own_domain": self.signs_own_domain,
            "mx_patterns": list(self.mx_patterns),
            "sources": list(self.sources),
            "notes": self.notes,
            "file": self.file,
        }


class ProfileError(ValueError):
    """A profile file or directory that cannot be used: "FILE: what is wrong"."""


# --------------------------------------------------------------------------- matching


def matches(patterns: Iterable[str], host: str) -> str | None:
    """The first pattern `host` matches (case-insensitive, trailing dot ignored), or None."""
    name = host.strip().rstrip(".").lower()
    return next((p for p in patterns if fnmatchcase(name, p)), None)


def include_matches(profile: EspProfile, domain: str) -> str | None:
    """The profile's include domain (or pattern) that `domain` is."""
    return matches(profile.spf_includes, domain)


def profile_for_host(profiles: Mapping[str, EspProfile], host: str) -> EspProfile | None:
    """The provider a DNS name belongs to: a DKIM CNAME target, return-path target, MX host,
    include domain or default envelope domain of one of the profiles (first by id)."""
    for profile in profiles.values():
        rp = profile.return_path.target_patterns if profile.return_path else ()
        if (
            matches(profile.dkim_cname_patterns, host)
            or matches(rp, host)
            or matches(profile.mx_patterns, host)
            or matches(profile.spf_includes, host)
            or matches(profile.default_envelope_domains, host)
        ):
            return profile
    return None


def profile_for_include(profiles: Mapping[str, EspProfile], domain: str) -> EspProfile | None:
    """The provider whose SPF include `domain` is."""
    return next((p for p in profiles.values() if include_matches(p, domain)), None)


def profile_for_dkim_target(profiles: Mapping[str, EspProfile], host: str) -> EspProfile | None:
    """The provider a `<selector>._domainkey` CNAME target points into."""
    return next((p for p in profiles.values() if matches(p.dkim_cname_patterns, host)), None)


def profile_for_return_path_target(
    profiles: Mapping[str, EspProfile], host: str, record_type: str
) -> EspProfile | None:
    """The provider a return-path CNAME (or MX) target points into."""
    for profile in profiles.values():
        rp = profile.return_path
        if rp and rp.record_type == record_type and matches(rp.target_patterns, host):
            return profile
    return None


def profile_for_mx(profiles: Mapping[str, EspProfile], host: str) -> EspProfile | None:
    """The mailbox provider an MX host belongs to."""
    return next((p for p in profiles.values() if matches(p.mx_patterns, host)), None)


# --------------------------------------------------------------------------- loading

_FIELDS: dict[str, tuple[str, bool]] = {
    # key: (kind, required)
    "name": ("str", True),
    "spf_includes": ("hosts", False),
    "dkim_selectors": ("labels", False),
    "dkim_cname_patterns": ("hosts", False),
    "default_envelope_domains": ("hosts", False),
    "return_path": ("table", False),
    "signs_own_domain": ("host", False),
    "mx_patterns": ("hosts", False),
    "sources": ("urls", True),
    "notes": ("str", False),
}
_RETURN_PATH_FIELDS = {"record_type", "name_patterns", "target_patterns"}


def load_profiles(extra_dir: Path | str | None = None) -> dict[str, EspProfile]:
    """The built-in profiles, then every `*.toml` in `extra_dir` (adding, or replacing one with
    the same id), sorted by id. Raises ProfileError("FILE: what is wrong")."""
    profiles = dict(_builtin_profiles())
    if extra_dir is not None:
        for path in files_in(Path(extra_dir), "*.toml", "ESP profiles", ProfileError):
            profile = load_profile(path)
            profiles[profile.id] = profile
    return dict(sorted(profiles.items()))


@cache
def _builtin_profiles() -> dict[str, EspProfile]:
    """The shipped profiles, parsed and validated once per process: every domain of a run (and
    of a batch run) asks for them, and they are package data that cannot change meanwhile."""
    return {p.id: p for p in map(load_profile, sorted(BUILTIN_DIR.glob("*.toml")))}


def load_profile(path: Path) -> EspProfile:
    """One profile file; its id is the file name stem."""
    pid = path.stem.lower()
    if not _ID.fullmatch(pid):
        raise ProfileError(f"{path}: the file name must be <id>.toml with id of a-z, 0-9, - or _")
    try:
        raw = path.read_bytes()
        if len(raw) > _MAX_FILE:
            raise ProfileError(f"{path}: larger than {_MAX_FILE // 1024} KiB")
        data = tomllib.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise ProfileError(f"{path}: cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ProfileError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML: {exc}") from None
    return _profile(path, pid, data)


def _profile(path: Path, pid: str, data: dict[str, Any]) -> EspProfile:
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise ProfileError(f"{path}: unknown key {unknown[0]!r} (known: {', '.join(_FIELDS)})")
    for key, (_, required) in _FIELDS.items():
        if required and key not in data:
            raise ProfileError(f"{path}: missing required key {key!r}")
    values = {key: _value(path, key, kind, data.get(key)) for key, (kind, _) in _FIELDS.items()}
    if not values["name"]:
        raise ProfileError(f"{path}: 'name' must not be empty")
    if not values["sources"]:
        raise ProfileError(f"{path}: 'sources' must list at least one https:// documentation URL")
    return EspProfile(
        id=pid,
        name=values["name"],
        spf_includes=values["spf_includes"],
        dkim_selectors=values["dkim_selectors"],
        dkim_cname_patterns=values["dkim_cname_patterns"],
        default_envelope_domains=values["default_envelope_domains"],
        return_path=_return_path(path, data.get("return_path")),
        signs_own_domain=values["signs_own_domain"],
        mx_patterns=values["mx_patterns"],
        sources=values["sources"],
        notes=values["notes"] or "",
        file=str(path),
    )


def _value(path: Path, key: str, kind: str, value: Any) -> Any:
    if kind == "table":
        return None  # read by _return_path
    if value is None:
        return () if kind in ("hosts", "labels", "urls") else None
    if kind == "str":
        if not isinstance(value, str):
            raise ProfileError(f"{path}: {key!r} must be a string, not {_type(value)}")
        return value.strip()
    if kind == "host":
        if not isinstance(value, str):
            raise ProfileError(f"{path}: {key!r} must be a string (a domain), not {_type(value)}")
        return _host(path, key, value, glob=False)
    items = _strings(path, key, value)
    if kind == "urls":
        for url in items:
            if not re.fullmatch(r"https://[^\s/]+\.[^\s/]+(/\S*)?", url):
                raise ProfileError(f"{path}: {key!r}: {url!r} is not an https:// URL")
        return items
    if kind == "labels":
        return tuple(_labels(path, key, item) for item in items)
    return tuple(_host(path, key, item, glob=True) for item in items)


def _strings(path: Path, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProfileError(f"{path}: {key!r} must be a list of strings, not {_type(value)}")
    return tuple(v.strip() for v in value)


def _type(value: Any) -> str:
    return {
        str: "a string", int: "an integer", float: "a number", bool: "a boolean",
        list: "a list", dict: "a table",
    }.get(type(value), type(value).__name__)  # fmt: skip


def _host(path: Path, key: str, text: str, *, glob: bool) -> str:
    """A domain, or a pattern of one whose literal end is a registrable domain (Public Suffix
    List): `*.sendgrid.net` is one provider's hosts, `*.net` or `*` would claim everybody's."""
    name = text.strip().rstrip(".")
    if name != name.lower():
        raise ProfileError(f"{path}: {key!r}: {text!r} must be lower-case")
    if not name or not _PATTERN_CHARS.fullmatch(name) or ".." in name or name.startswith("."):
        raise ProfileError(f"{path}: {key!r}: {text!r} is not a domain name or pattern")
    if not glob and GLOB_CHARS & set(name):
        raise ProfileError(f"{path}: {key!r}: {text!r} must be a domain, not a pattern")
    labels = name.split(".")
    globbed = [i for i, label in enumerate(labels) if GLOB_CHARS & set(label) or "]" in label]
    tail = ".".join(labels[globbed[-1] + 1 :] if globbed else labels)
    if not tail or not _HOST.fullmatch(tail) or is_public_suffix(tail):
        raise ProfileError(
            f"{path}: {key!r}: {text!r} must end in the provider's own registrable domain "
            "(e.g. *.sendgrid.net): a pattern must not match other parties' hosts"
        )
    _check_brackets(path, key, text, name)
    return name


def _labels(path: Path, key: str, text: str) -> str:
    """A label (or dotted labels, or a pattern of them) under the customer's domain."""
    name = text.strip().rstrip(".")
    if name != name.lower():
        raise ProfileError(f"{path}: {key!r}: {text!r} must be lower-case")
    if not name or not _PATTERN_CHARS.fullmatch(name) or ".." in name or name.startswith("."):
        raise ProfileError(f"{path}: {key!r}: {text!r} is not a DNS label or pattern")
    _check_brackets(path, key, text, name)
    return name


def _check_brackets(path: Path, key: str, text: str, name: str) -> None:
    if name.count("[") != name.count("]"):
        raise ProfileError(f"{path}: {key!r}: {text!r} has an unbalanced [ ]")


def _return_path(path: Path, value: Any) -> ReturnPathSpec | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ProfileError(f"{path}: 'return_path' must be a table, not {_type(value)}")
    unknown = sorted(set(value) - _RETURN_PATH_FIELDS)
    if unknown:
        raise ProfileError(
            f"{path}: unknown key 'return_path.{unknown[0]}' "
            f"(known: {', '.join(sorted(_RETURN_PATH_FIELDS))})"
        )
    record_type = value.get("record_type")
    if not isinstance(record_type, str) or record_type.upper() not in RECORD_TYPES:
        raise ProfileError(
            f"{path}: 'return_path.record_type' must be one of {', '.join(RECORD_TYPES)}"
        )
    names = _strings(path, "return_path.name_patterns", value.get("name_patterns", []))
    targets = _strings(path, "return_path.target_patterns", value.get("target_patterns", []))
    if not names:
        raise ProfileError(f"{path}: 'return_path.name_patterns' must list at least one name")
    if record_type.upper() != "TXT" and not targets:
        raise ProfileError(
            f"{path}: 'return_path.target_patterns' must list the {record_type.upper()} target(s)"
        )
    return ReturnPathSpec(
        record_type.upper(),
        tuple(_labels(path, "return_path.name_patterns", n) for n in names),
        tuple(_host(path, "return_path.target_patterns", t, glob=True) for t in targets),
    )
