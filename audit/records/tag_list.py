"""The one `tag=value; tag=value` parser: DKIM keys, DMARC, BIMI, MTA-STS and TLS-RPT records.
Pure: no I/O.

RFC 6376 3.2 defines the tag list DKIM key records use, and DMARC (RFC 7489 6.3, RFC 9989) and
BIMI take it over:

    tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
    tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
    tag-name  =  ALPHA *ALNUMPUNC

so whitespace may stand around tags and around "=", a value is what is between "=" and ";"
without the surrounding whitespace (inner whitespace kept), one trailing ";" is allowed and an
empty tag-spec (";;", a leading ";") is not, a tag that occurs twice makes the list invalid,
and an empty value is a value (not an omitted tag). MTA-STS (RFC 8461 3.1) and TLS-RPT
(RFC 8460 3) write the same list with stricter separators: `*WSP ";" *WSP`, nothing around "=".

Tag names are case-sensitive in DKIM ("Tags MUST be interpreted in a case-sensitive manner"),
MTA-STS and TLS-RPT (`%s"v=STSv1"`, `%s"rua="`), and case-insensitive in DMARC and BIMI, whose
ABNF writes them as plain quoted strings (RFC 5234 2.3): each record's `Grammar` says which.

The parser only splits and reports what breaks the list itself, with one set of texts; what a
tag means and which values it may take stay with each record's parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Grammar:
    """How one record family writes its tag list."""

    name: re.Pattern[str]  # what a tag name may be (matched in full)
    fold_case: bool  # tag names compared case-insensitively (kept lower-case)
    edges: re.Pattern[str]  # whitespace allowed before the first and after the last tag
    separator: re.Pattern[str]  # ";" with the whitespace allowed around it
    equals: re.Pattern[str]  # "=" with the whitespace allowed around it


def _grammar(name: str, fold_case: bool, space: str, space_around_equals: bool) -> Grammar:
    """`space` is the whitespace allowed around ";" (a regex character class)."""
    return Grammar(
        re.compile(name),
        fold_case,
        re.compile(rf"^{space}+|{space}+$"),
        re.compile(rf"{space}*;{space}*"),
        re.compile(rf"{space}*={space}*" if space_around_equals else "="),
    )


_TAG_NAME = r"[A-Za-z][A-Za-z0-9_]*"  # ALPHA *ALNUMPUNC

DKIM = _grammar(_TAG_NAME, fold_case=False, space=r"\s", space_around_equals=True)
DMARC = _grammar(_TAG_NAME, fold_case=True, space=r"\s", space_around_equals=True)
BIMI = DMARC
# sts-ext-name and tlsrpt-ext-name are checked by the record parsers (`extension_errors`), so
# a bad name reads as a bad field name, not as a broken list.
FIELDS = _grammar(r"[^=]+", fold_case=False, space=r"[ \t]", space_around_equals=False)

EMPTY_TAG = "an empty tag (a ';' with no tag before it)"


def not_a_pair(part: str) -> str:
    return f"{part!r} is not a tag=value pair"


def duplicate(name: str) -> str:
    return f"tag {name}= appears more than once"


@dataclass
class TagList:
    """The tags of one record in order (first occurrence of each), and what broke the list."""

    tags: dict[str, str] = field(default_factory=dict)
    first: str | None = None  # the name of the first tag-spec, None when it is not a tag
    positions: dict[str, int] = field(default_factory=dict)  # tag -> index of its tag-spec
    errors: list[str] = field(default_factory=list)


def first_tag(txt: str, grammar: Grammar) -> tuple[str, str] | None:
    """The first tag-spec as (name, value), or None when it is not a tag: how DMARC, MTA-STS
    and TLS-RPT pick their records from a name's TXT set ("records that do not begin with
    v=... are discarded")."""
    head = grammar.separator.split(grammar.edges.sub("", txt), maxsplit=1)[0]
    pieces = grammar.equals.split(head, maxsplit=1)
    if len(pieces) != 2 or not grammar.name.fullmatch(pieces[0]):
        return None
    name, value = pieces
    return (name.lower() if grammar.fold_case else name), value


def parse_tag_list(txt: str, grammar: Grammar) -> TagList:
    """Split `txt` by `grammar`; problems are collected in `errors`, never raised."""
    out = TagList()
    body = grammar.edges.sub("", txt)
    if not body:
        return out
    parts = grammar.separator.split(body)
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()  # one trailing ";"
    for index, part in enumerate(parts):
        if not part:
            out.errors.append(EMPTY_TAG)
            continue
        pieces = grammar.equals.split(part, maxsplit=1)
        if len(pieces) != 2 or not grammar.name.fullmatch(pieces[0]):
            out.errors.append(not_a_pair(part))
            continue
        name, value = pieces
        if grammar.fold_case:
            name = name.lower()
        if index == 0:
            out.first = name
        if name in out.tags:
            out.errors.append(duplicate(name))
            continue
        out.tags[name] = value
        out.positions[name] = index
    return out
