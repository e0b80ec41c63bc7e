"""Typed facts and the report's JSON: the one serialiser, the cap, and the tolerant reader.

Checks put frozen dataclasses (audit/fact_types/) into CheckResult.facts. Their JSON is their
fields, in declaration order and under the same names: exactly the dicts the checks built before
the facts were typed, so JSON output, history, baselines and the schema keep their shape. A field
declared with `metadata=OMIT_NONE` is left out while it is None (a key only some outcomes have).

Lists are capped (MAX_FACT_ITEMS) where they become JSON: the runner caps plain dict facts as
before, and a typed value is capped as it is serialised, so the JSON is the same either way. In
memory a typed value keeps every item; the lists renderers show are bounded where they are
built (paths by the flags, the SPF tree by its walk's MAX_NODES).

This module sits beside audit/model.py at the bottom of the layers: it knows no family.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

MAX_FACT_ITEMS = 100  # entries kept in any fact list (hops, verdicts, hosts); evidence: 20
MAX_READ_DEPTH = 40  # a malformed stored tree cannot recurse the reader to death
OMIT_NONE: Mapping[str, bool] = {"omit_none": True}
# a nested dataclass (or None) whose fields sit in the parent's JSON object, not under its name:
# keys that only some entries have, together (a DKIM key record's parsed tags)
INLINE: Mapping[str, bool] = {"inline": True}

T = TypeVar("T")


# Every report serialises thousands of values: the plain types are told apart by their exact
# type (one set lookup), before the general tests that also take their subclasses.
_LEAVES = frozenset({str, int, float, bool, type(None)})
_PLANS: dict[type, tuple[tuple[str, bool, bool], ...]] = {}  # class -> (field, inline, omit)


def _plan(kind: type) -> tuple[tuple[str, bool, bool], ...] | None:
    """A dataclass's fields as to_json walks them (read from dataclasses.fields once per
    class); None for a class that is no dataclass."""
    plan = _PLANS.get(kind)
    if plan is None and dataclasses.is_dataclass(kind):
        plan = _PLANS[kind] = tuple(
            (f.name, bool(f.metadata.get("inline")), bool(f.metadata.get("omit_none")))
            for f in dataclasses.fields(kind)
        )
    return plan


def to_json(value: Any) -> Any:
    """`value` as JSON data: dataclasses become dicts of their fields, tuples become lists."""
    kind = type(value)
    if kind in _LEAVES:
        return value
    plan = None if kind is dict or kind is list or kind is tuple else _plan(kind)
    if plan is None:
        return _containers(value, to_json)
    out: dict[str, Any] = {}  # a dataclass instance (a dataclass class itself has type `type`)
    for name, inline, omit_none in plan:
        item = getattr(value, name)
        if inline:
            out.update(to_json(item) if item is not None else {})
        elif item is not None or not omit_none:
            out[name] = to_json(item)
    return out


def facts_json(facts: Any) -> Any:
    """A check's facts as they go into the report: typed values serialised and capped."""
    kind = type(facts)
    if kind in _LEAVES:
        return facts
    if kind is dict or kind is list or kind is tuple or _plan(kind) is None:
        return _containers(facts, facts_json)
    return cap_facts(to_json(facts))


def _containers(value: Any, walk: Callable[[Any], Any]) -> Any:
    """Dicts, lists and tuples (as lists) with `walk` applied to every item that is no plain
    scalar; anything else as it is. Exact types first: most facts are plain dicts and lists."""
    kind = type(value)
    if kind is dict:
        return {k: v if type(v) in _LEAVES else walk(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [item if type(item) in _LEAVES else walk(item) for item in value]
    if isinstance(value, dict):
        return {key: walk(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [walk(item) for item in value]
    return value


def cap_facts(facts: Any, limit: int | None = None) -> Any:
    """`facts` with every list cut to `limit` entries, at any depth; a dict holding a cut list
    under `key` says how many entries were left out under `key_skipped`. Typed values pass
    through whole (they are capped by facts_json when serialised)."""
    return _cap(facts, MAX_FACT_ITEMS if limit is None else limit)


_CONTAINERS = (dict, list, tuple)


def _cap(facts: Any, limit: int) -> Any:
    # Every check's facts of every audit pass through here: scalars, most of the leaves, are
    # kept without a call each.
    if isinstance(facts, dict):
        out: dict[Any, Any] = {}
        for key, value in facts.items():
            if isinstance(value, _CONTAINERS):
                out[key] = _cap(value, limit)
                if not isinstance(value, dict) and len(value) > limit:
                    out[f"{key}_skipped"] = len(value) - limit
            else:
                out[key] = value
        return out
    if isinstance(facts, list | tuple):
        return [_cap(i, limit) if isinstance(i, _CONTAINERS) else i for i in facts[:limit]]
    return facts


def facts_of(facts: Mapping[str, Any], key: str, cls: type[T]) -> T | None:
    """`facts[key]` as a `cls`: the value itself when a check put it there, rebuilt when the
    report was read back from JSON (report_from_dict keeps facts as dicts), None when absent."""
    value = facts.get(key) if isinstance(facts, Mapping) else None
    if isinstance(value, cls):
        return value
    if isinstance(value, dict):
        return from_json(cls, value)
    return None


def facts_list_of(facts: Mapping[str, Any], key: str, cls: type[T]) -> list[T]:
    """`facts[key]` as a list of `cls` (see facts_of); entries that are not records are dropped."""
    value = facts.get(key) if isinstance(facts, Mapping) else None
    items = value if isinstance(value, list | tuple) else []
    return [
        item if isinstance(item, cls) else from_json(cls, item)
        for item in items
        if isinstance(item, cls | dict)
    ]


def facts_map_of(facts: Mapping[str, Any], key: str, cls: type[T]) -> dict[str, T]:
    """`facts[key]` as a mapping of names to `cls` (see facts_of)."""
    value = facts.get(key) if isinstance(facts, Mapping) else None
    items = value if isinstance(value, dict) else {}
    return {
        str(name): item if isinstance(item, cls) else from_json(cls, item)
        for name, item in items.items()
        if isinstance(item, cls | dict)
    }


def from_json(cls: type[T], data: Any, depth: int = 0) -> T:
    """A `cls` from stored JSON, tolerant of what an old or edited report holds: a missing or
    mistyped value becomes the field's empty value (None, "", 0, False, [])."""
    raw = data if isinstance(data, dict) else {}
    hints = typing.get_type_hints(cls)
    kwargs = {
        f.name: _inline(hints[f.name], raw, depth + 1)
        if f.metadata.get("inline")
        else _coerce(hints[f.name], raw.get(f.name), depth + 1)
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]  # T is a dataclass by contract
        if f.init
    }
    return cls(**kwargs)


def _inline(tp: Any, raw: dict[str, Any], depth: int) -> Any:
    """An INLINE field: built from the parent's keys when any of its own is there, else None."""
    (inner,) = [a for a in typing.get_args(tp) if a is not type(None)] or [tp]
    names = {f.name for f in dataclasses.fields(inner)}
    return from_json(inner, raw, depth) if names & raw.keys() else None


_SCALARS: dict[type, Any] = {str: "", int: 0, float: 0.0, bool: False}


def _coerce(tp: Any, value: Any, depth: int) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (types.UnionType, typing.Union):
        options = [a for a in args if a is not type(None)]
        if value is None and len(options) < len(args):
            return None
        for option in options:
            if _fits(option, value):
                return _coerce(option, value, depth)
        if str in options and _fits(float, value):
            return str(value)  # a number where text was expected is shown as text
        return None if len(options) < len(args) else _coerce(options[0], None, depth)
    if origin in (list, tuple):
        items = value if isinstance(value, list) and depth <= MAX_READ_DEPTH else []
        if args and dataclasses.is_dataclass(args[0]):  # a record that is not one is dropped
            items = [item for item in items if isinstance(item, dict)]
        out = [_coerce(args[0], item, depth) for item in items] if args else list(items)
        return tuple(out) if origin is tuple else out
    if origin is dict or tp is dict:
        entries = value if isinstance(value, dict) and depth <= MAX_READ_DEPTH else {}
        if len(args) == 2:
            return {str(k): _coerce(args[1], v, depth) for k, v in entries.items()}
        return dict(entries)
    if dataclasses.is_dataclass(tp):
        return from_json(typing.cast(type, tp), value, depth)
    if tp is str and _fits(float, value):
        return str(value)  # a number where text was expected is shown as text
    if tp in _SCALARS:
        return value if _fits(tp, value) else _SCALARS[tp]
    return value


def _fits(tp: Any, value: Any) -> bool:
    """Whether `value` read from JSON can stand for a `tp` without guessing."""
    origin = typing.get_origin(tp) or tp
    if origin is bool:
        return isinstance(value, bool)
    if origin is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if origin is str:
        return isinstance(value, str)
    if origin in (list, tuple):
        return isinstance(value, list)
    if origin is dict or dataclasses.is_dataclass(origin):
        return isinstance(value, dict)
    return True
