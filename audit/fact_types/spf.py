"""The spf check's facts: the record, the include/redirect tree with its costs, the terms."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SpfNode:
    """One record of the include/redirect tree (`facts.spf.tree` and its children)."""

    domain: str
    via: str | None  # "include:x", "redirect=x"; None for the root
    record: str | None
    lookups: int  # this record's own DNS-costing terms
    total_lookups: int  # with every branch below it
    void_lookups: int
    error: str | None
    children: tuple[SpfNode, ...] = ()

    @property
    def branch_cost(self) -> int:
        """What this branch adds to the parent's count: the include/redirect itself plus all
        lookups below it (RFC 7208 section 4.6.4 counts both)."""
        return self.total_lookups + (1 if self.via else 0)

    @property
    def void_total(self) -> int:
        return self.void_lookups + sum(c.void_total for c in self.children)


@dataclass(frozen=True, slots=True)
class SpfFacts:
    """`facts.spf`: the record(s) at the domain and the worst-case lookup counts."""

    record: str | None
    records: tuple[str, ...]
    lookup_count: int
    void_lookup_count: int
    tree: SpfNode


@dataclass(frozen=True, slots=True)
class SpfTerm:
    """One DNS-costing term of a record in the tree (`facts.spf_terms`)."""

    domain: str  # whose record holds the term
    term: str
    cost: int
    target: str | None
    void: bool
    hosts: tuple[str, ...]  # mx: the exchange names
    note: str | None
    failed: str | None  # the lookup that timed out or SERVFAILed, described
