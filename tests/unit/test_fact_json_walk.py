"""facts_json walks plain dicts, lists and scalars without a dataclass test per value, and
still serialises (and caps) a typed value found anywhere inside them."""

from __future__ import annotations

import enum
from collections import OrderedDict
from dataclasses import dataclass, field

from audit.fact_json import MAX_FACT_ITEMS, OMIT_NONE, facts_json


@dataclass(frozen=True)
class Leaf:
    name: str
    items: tuple[int, ...] = ()
    note: str | None = field(default=None, metadata=OMIT_NONE)


class Color(enum.StrEnum):
    RED = "red"


def test_plain_data_comes_back_equal_and_copied():
    facts = {"a": [1, 2.5, True, None, "x", {"b": ("t", "u")}], "c": {"d": {"e": []}}}
    out = facts_json(facts)
    assert out == {"a": [1, 2.5, True, None, "x", {"b": ["t", "u"]}], "c": {"d": {"e": []}}}
    assert out is not facts and out["c"] is not facts["c"]


def test_typed_values_inside_plain_containers_are_serialised_and_capped():
    many = tuple(range(MAX_FACT_ITEMS + 3))
    facts = {"rows": [Leaf("one"), {"deep": (Leaf("two", many, note="n"),)}]}
    out = facts_json(facts)
    assert out["rows"][0] == {"name": "one", "items": []}  # note left out while None
    deep = out["rows"][1]["deep"][0]
    assert deep["name"] == "two" and deep["note"] == "n"
    assert len(deep["items"]) == MAX_FACT_ITEMS and deep["items_skipped"] == 3


def test_subclasses_of_plain_types_take_the_general_path():
    facts = OrderedDict(color=Color.RED, inner=OrderedDict(leaf=Leaf("x")))
    out = facts_json(facts)
    assert out == {"color": Color.RED, "inner": {"leaf": {"name": "x", "items": []}}}
    assert out["color"] is Color.RED  # a str enum is passed through as before
