"""Organizational domains from the Public Suffix List (RFC 7489 3.2), bundled: no network."""

from __future__ import annotations

from functools import cache

from publicsuffixlist import PublicSuffixList


@cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


def organizational_domain(domain: str) -> str:
    """The registrable domain (`mail.example.co.uk` -> `example.co.uk`); a public suffix itself
    is its own organizational domain."""
    domain = domain.rstrip(".").lower()
    return _psl().privatesuffix(domain) or domain


def is_public_suffix(domain: str) -> bool:
    """`com`, `co.uk`, and any unknown TLD: names under which anyone can register."""
    return bool(_psl().is_public(domain.rstrip(".").lower()))


def tree_walk_names(domain: str) -> list[str]:
    """RFC 9989 DNS tree walk: the domain, then its parents down to one label, skipping to the
    last seven labels when the name has eight or more."""
    labels = domain.rstrip(".").lower().split(".")
    names = [".".join(labels)]
    if len(labels) >= 8:
        labels = labels[-7:]
        names.append(".".join(labels))
    while len(labels) > 1:
        labels = labels[1:]
        names.append(".".join(labels))
    return names
