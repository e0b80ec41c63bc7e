"""MTA-STS policy files (RFC 8461 3.2) and the MX pattern match (4.1). Pure: no I/O.

A policy is `key: value` lines (CRLF or LF): `version: STSv1` first, `mode` (enforce, testing,
none), `max_age` (seconds, at most 31557600) and one or more `mx` patterns. Unknown keys are
ignored, as senders ignore them; of a repeated key other than `mx` senders use the first.
Errors make senders discard the policy; warnings do not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

MAX_AGE_LIMIT = 31557600  # RFC 8461 3.2: about one year
MAX_AGE_ADVISED = 86400  # a day: below it, a cached policy lapses between fetches
MODES = ("enforce", "testing", "none")
_KNOWN = ("version", "mode", "max_age", "mx")

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_MX_PATTERN = re.compile(rf"^(?:\*\.)?{_LABEL}(?:\.{_LABEL})+\.?$")


@dataclass
class StsPolicy:
    raw: str
    version: str | None = None
    mode: str | None = None
    max_age: int | None = None
    mx: list[str] = field(default_factory=list)
    extensions: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "mode": self.mode,
            "max_age": self.max_age,
            "mx": list(self.mx),
            "extensions": dict(self.extensions),
            "errors": list(self.errors),
            "warnings": list(self.warnings),
        }


def parse_policy(text: str) -> StsPolicy:
    """Parses a policy body; problems are collected in `errors` / `warnings`, never raised."""
    policy = StsPolicy(raw=text)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the terminator after the last field
    seen: dict[str, str] = {}
    fields = 0
    for number, line in enumerate(lines, start=1):
        line = line.removesuffix("\r")
        if number == 1:
            line = line.removeprefix("\ufeff")
        if not line.strip():
            policy.warnings.append(f"line {number} is empty (the RFC 8461 grammar has none)")
            continue
        key, colon, value = line.partition(":")
        value = value.strip(" \t")
        if not colon or not _KEY.match(key):
            shown = line if len(line) <= 60 else line[:57] + "..."
            policy.errors.append(f"line {number} {shown!r} is not a 'key: value' field")
            continue
        fields += 1
        if not value and key not in _KNOWN:
            # sts-policy-ext-value = sts-policy-vchar [...]: at least one character.
            policy.errors.append(f"line {number}: extension {key!r} has an empty value")
            continue
        if key == "mx":
            _add_mx(policy, number, value)
            continue
        if key in seen:
            policy.duplicates.append(key)
            same = "the same value" if seen[key] == value else f"{value!r}, ignored"
            policy.warnings.append(
                f"{key} appears more than once (line {number}: {same}); senders use the first"
            )
            continue
        seen[key] = value
        if key == "version" and fields > 1:
            policy.warnings.append("version is not the first field: put `version: STSv1` first")
        _set_field(policy, key, value)
    if policy.version is None and not any(e.startswith("version") for e in policy.errors):
        policy.errors.append("version: STSv1 is missing")
    if policy.mode is None and "mode" not in seen:
        policy.errors.append("mode is missing (enforce, testing or none)")
    if policy.max_age is None and "max_age" not in seen:
        policy.errors.append("max_age is missing")
    if not policy.mx and policy.mode in ("enforce", "testing"):
        policy.errors.append(f"no mx patterns: in mode {policy.mode} no MX host is allowed")
    return policy


def _set_field(policy: StsPolicy, key: str, value: str) -> None:
    if key == "version":
        if value == "STSv1":
            policy.version = value
        else:
            policy.errors.append(f"version {value!r} is not STSv1")
    elif key == "mode":
        if value in MODES:
            policy.mode = value
        else:
            policy.errors.append(f"mode {value!r} is not enforce, testing or none")
    elif key == "max_age":
        if not (value.isascii() and value.isdigit() and len(value) <= 10):
            policy.errors.append(f"max_age {value!r} is not a number of seconds")
        elif int(value) > MAX_AGE_LIMIT:
            policy.errors.append(f"max_age {value} is over the maximum of {MAX_AGE_LIMIT}")
        else:
            policy.max_age = int(value)
            if policy.max_age < MAX_AGE_ADVISED:
                policy.warnings.append(
                    f"max_age {value} is under a day ({MAX_AGE_ADVISED}): senders drop the "
                    "cached policy between visits, so an attacker who blocks the fetch wins"
                )
    else:
        policy.extensions[key] = value


def _add_mx(policy: StsPolicy, number: int, value: str) -> None:
    if not _MX_PATTERN.match(value):
        policy.errors.append(f"line {number}: mx {value!r} is not a host name or *.domain pattern")
        return
    pattern = value.rstrip(".").lower()
    if pattern in policy.mx:
        policy.warnings.append(f"mx {value} is listed more than once")
        return
    policy.mx.append(pattern)


def mx_matches(pattern: str, host: str) -> bool:
    """RFC 8461 4.1: case-insensitive; a leading `*.` stands for exactly one leftmost label
    (`*.example.com` matches `mx1.example.com`, not `example.com` or `a.b.example.com`)."""
    pattern = pattern.strip().rstrip(".").lower()
    host = host.strip().rstrip(".").lower()
    if pattern.startswith("*."):
        label, dot, rest = host.partition(".")
        return bool(label and dot) and rest == pattern[2:]
    return pattern == host


def coverage(patterns: list[str], hosts: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """For each MX host the patterns that match it, and the patterns that match no host."""
    matched = {h: [p for p in patterns if mx_matches(p, h)] for h in hosts}
    unused = [p for p in patterns if not any(mx_matches(p, h) for h in hosts)]
    return matched, unused
