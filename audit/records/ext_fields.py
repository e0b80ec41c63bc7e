"""The extension fields MTA-STS (RFC 8461 3.1) and TLS-RPT (RFC 8460 3) TXT records share (the
list itself is split by `audit.records.tag_list` with its FIELDS grammar). Pure: no I/O.

    sts-sep       = *WSP %x3B *WSP
    sts-extension = sts-ext-name "=" sts-ext-value
    sts-ext-name  = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
    sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E)   ; no "=", ";", SP or control characters

RFC 8460 3 repeats the same productions as tlsrpt-ext-name / tlsrpt-ext-value. A record that
breaks them is syntactically invalid, and senders then act as if there were no record.
"""

from __future__ import annotations

import re

from audit.records.tag_list import FIELDS, parse_tag_list

EXT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
EXT_VALUE = re.compile(r"^[\x21-\x3a\x3c\x3e-\x7e]+$")


def extension_errors(name: str, value: str) -> list[str]:
    """Why an extension field breaks the ext-name / ext-value productions (none when valid)."""
    problems = []
    if not EXT_NAME.match(name):
        shown = name if len(name) <= 40 else name[:37] + "..."
        problems.append(
            f"field name {shown!r} is not 1-32 letters, digits, '_', '-' or '.' "
            "starting with a letter or digit"
        )
    if not value:
        problems.append(f"{name}= has an empty value")
    elif not EXT_VALUE.match(value):
        problems.append(f"{name}={value} has a value with '=', a space or a control character")
    return problems


def read_fields(
    txt: str, version: str, known: tuple[str, ...], errors: list[str]
) -> dict[str, str]:
    """The record's fields: `v=<version>` first, every field but `v` and `known` an extension
    of the ext-name / ext-value grammar. Problems go to `errors`."""
    parsed = parse_tag_list(txt, FIELDS)
    errors.extend(parsed.errors)
    if parsed.tags and (parsed.first != "v" or parsed.tags["v"] != version):
        errors.append(f"the record must start with v={version}")
    for name, value in parsed.tags.items():
        if name != "v" and name not in known:
            errors.extend(extension_errors(name, value))
    return parsed.tags
