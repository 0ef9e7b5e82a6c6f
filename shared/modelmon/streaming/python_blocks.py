"""A mixed batch's shared blocks built by the pure-Python path (pure: numpy).

The native decoder (streaming/native_decode.py) hands a batch over 1,000 models as one
``SharedBlock`` per column layout, which the aggregator folds with array operations into
exact small windows (docs/decisions/0007-exact-small-windows.md). The pure-Python path
(``MODELMON_NATIVE=0``, or no Rust toolchain) decodes with the reference
(``decode.decode_batch``: one ``inputs`` dict per event); ``with_blocks`` turns those dicts
into the same blocks: per layout (the models whose plans list the same names) every feature
is built once, as a whole column over all those models' rows (``map(dict.get, ...)`` and
numpy), never per (model, feature). The blocks hold what the native decoder's hold: the same
models and their order, codes, positions, float and tag matrices and object columns
(docs/decode.md, "The typing rules"; native/src/layout.rs ``finish``).

A model whose events carry a name its plan does not list (any name, for a model without a
plan) keeps its events as ``inputs`` dicts (the native decoder builds it a block of its own
with the extra names, which the exact fold does not take either): the aggregator folds it
per model, the reference path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import compress, repeat
from typing import Any

import numpy as np
import numpy.typing as npt

from modelmon.streaming.blocks import (
    ABSENT,
    BOOL,
    FLOAT,
    INT,
    MISSING,
    STR,
    Block,
    Groups,
    ModelGroup,
    SharedBlock,
)
from modelmon.streaming.decode import (
    Column,
    DecodedBatch,
    Inputs,
    Int64Array,
    Rejected,
    decode_batch,
    split_by_code,
    take,
)

_EXACT = 2.0**53  # ints at or beyond this keep Python objects (a float cannot hold them)


class _Absent:
    """The value of a name an event does not have (``Block.tags``: ``ABSENT``)."""


_NO = _Absent()
_TAG_OF: dict[type, int] = {
    _Absent: ABSENT, type(None): MISSING, int: INT, float: FLOAT, bool: BOOL, str: STR,
}  # fmt: skip


def decode_blocks(
    values: Sequence[bytes | None], plans: Mapping[str, Sequence[str]]
) -> tuple[DecodedBatch, list[Rejected]]:
    """``decode.decode_batch``, its events then as shared blocks (``with_blocks``)."""
    batch, rejects = decode_batch(values)
    return with_blocks(batch, plans), rejects


def with_blocks(batch: DecodedBatch, plans: Mapping[str, Sequence[str]]) -> DecodedBatch:
    """A generic decode's batch (``inputs`` dicts) as the native decoder hands it over: its
    models in order of first event, each event's model code, and ``Groups`` over one
    ``SharedBlock`` per layout; the batch unchanged should a value have a type no capture
    event has."""
    models = list(dict.fromkeys(batch.model_ids))
    code_of = {m: c for c, m in enumerate(models)}
    codes = np.fromiter(map(code_of.__getitem__, batch.model_ids), np.int64, len(batch))
    layouts = _Layouts(models, plans)
    by_layout = split_by_code(np.asarray(layouts.ids, dtype=np.int64)[codes], len(layouts.names))
    shared: list[SharedBlock] = []
    irregular: set[int] = set()
    try:
        for names, positions in zip(layouts.names, by_layout, strict=False):  # none if empty
            if len(positions):
                shared += _layout_blocks(models, codes, batch.inputs, names, positions, irregular)
    except KeyError:  # a value of a type no capture event has: keep the dicts
        return batch
    shared.sort(key=lambda s: s.models[0])
    own: dict[str, ModelGroup] = {}
    for c in sorted(irregular):
        positions = np.flatnonzero(codes == c)
        own[models[c]] = ModelGroup(positions, None, take(batch.inputs, positions))
    return DecodedBatch(
        index=batch.index, event_ms=batch.event_ms, model_ids=batch.model_ids,
        groups=Groups(models, shared, own), model_codes=codes, shared=shared,
    )  # fmt: skip


class _Layouts:
    """Per model of a batch its layout number, and each layout's names (a plan's names
    without repeats; models without a plan have the empty one)."""

    def __init__(self, models: list[str], plans: Mapping[str, Sequence[str]]) -> None:
        names_of = _plan_names(plans)
        number: dict[tuple[str, ...], int] = {}
        self.ids = [number.setdefault(names_of(m), len(number)) for m in models]
        self.names = list(number)


_names_cache: dict[int, tuple[Mapping[str, Sequence[str]], dict[str, tuple[str, ...]]]] = {}


def _plan_names(plans: Mapping[str, Sequence[str]]) -> Callable[[str], tuple[str, ...]]:
    """A model's layout names, computed once per plans mapping (the registry's reload)."""
    cached = _names_cache.get(id(plans))
    if cached is None or cached[0] is not plans:
        _names_cache.clear()
        cached = _names_cache[id(plans)] = (plans, {})
    known = cached[1]

    def names_of(model: str) -> tuple[str, ...]:
        names = known.get(model)
        if names is None:
            names = known[model] = tuple(dict.fromkeys(plans.get(model, ())))
        return names

    return names_of


def _layout_blocks(
    models: list[str], codes: Int64Array, inputs: list[Inputs], names: tuple[str, ...],
    positions: Int64Array, irregular: set[int],
) -> list[SharedBlock]:  # fmt: skip
    """One layout's events (at these batch positions) as shared blocks: one per set of
    object columns, without the events of models with names the layout does not list."""
    rows = take(inputs, positions)
    listed = set(names)
    if not listed.issuperset(set().union(*map(dict.keys, rows))):
        ok = np.fromiter(map(listed.issuperset, rows), bool, len(rows))
        strays = np.unique(codes[positions[~ok]])
        irregular.update(strays.tolist())
        keep = ~np.isin(codes[positions], strays)
        positions, rows = positions[keep], take(rows, np.flatnonzero(keep))
        if not len(positions):
            return []
    mine, local = _renumbered(codes[positions], len(models))
    columns = [_column(rows, name) for name in names]
    objects = _object_columns(columns, local, len(mine))
    return _split(models, mine, local, positions, names, columns, objects)


def _renumbered(codes: Int64Array, n: int) -> tuple[Int64Array, Int64Array]:
    """The codes present (ascending) and each code's number among them (no sort)."""
    mine = np.flatnonzero(np.bincount(codes, minlength=n))
    number = np.full(n, -1, dtype=np.int64)
    number[mine] = np.arange(len(mine), dtype=np.int64)
    return mine, number[codes]


def _column(rows: list[Inputs], name: str) -> tuple[list[Any], npt.NDArray[np.uint8], Any]:
    """One feature over the rows: its values (``_NO`` where absent), tags and floats."""
    values = list(map(dict.get, rows, repeat(name), repeat(_NO)))
    types = set(map(type, values))
    if len(types) == 1:  # the usual column: one type throughout
        tags = np.full(len(values), _TAG_OF[types.pop()], dtype=np.uint8)
    else:
        tags = np.fromiter(map(_TAG_OF.__getitem__, map(type, values)), np.uint8, len(values))
    numbers = (tags == INT) | (tags == FLOAT)
    if numbers.all():
        floats = np.array(values, dtype=np.float64)
    else:
        floats = np.full(len(values), np.nan)
        if numbers.any():
            floats[numbers] = np.array(list(compress(values, numbers.tolist())), np.float64)
    return values, tags, floats


def _object_columns(
    columns: list[tuple[list[Any], npt.NDArray[np.uint8], Any]], local: Int64Array, k: int
) -> npt.NDArray[np.bool_]:
    """Per model (``local`` codes, ``k`` models) and column: whether its rows keep Python
    objects there. A column with a string, a bool or an int beyond 2**53 anywhere keeps
    objects for each model with such a value in it or without any number (layout.rs)."""
    out = np.zeros((k, len(columns)), dtype=bool)
    for j, (_, tags, floats) in enumerate(columns):
        odd = (tags == STR) | (tags == BOOL) | ((tags == INT) & (np.abs(floats) >= _EXACT))
        if not odd.any():
            continue
        numbers = ((tags == INT) | (tags == FLOAT)) & ~odd
        has_odd = np.bincount(local[odd], minlength=k) > 0
        has_number = np.bincount(local[numbers], minlength=k) > 0
        out[:, j] = has_odd | ~has_number
    return out


def _split(
    models: list[str], mine: Int64Array, local: Int64Array, positions: Int64Array,
    names: tuple[str, ...], columns: list[tuple[list[Any], npt.NDArray[np.uint8], Any]],
    objects: npt.NDArray[np.bool_],
) -> list[SharedBlock]:  # fmt: skip
    """The layout's rows as one block per distinct set of object columns."""
    shape = (len(names), len(positions))
    floats = np.stack([c[2] for c in columns]) if columns else np.empty(shape)
    tags = np.stack([c[1] for c in columns]) if columns else np.empty(shape, np.uint8)
    sigs, group_of = np.unique(objects, axis=0, return_inverse=True)
    group_of = group_of.reshape(-1)
    whole = len(sigs) == 1
    out: list[SharedBlock] = []
    for g, sig in enumerate(sigs):
        members = np.flatnonzero(group_of == g)
        order = sorted(members.tolist(), key=lambda i: models[int(mine[i])])
        renumber = np.full(len(mine), -1, dtype=np.int64)
        renumber[order] = np.arange(len(order), dtype=np.int64)
        rows = None if whole else np.flatnonzero(group_of[local] == g)
        objs = {names[j]: _objects(columns[j], rows) for j in np.flatnonzero(sig).tolist()}
        at = slice(None) if rows is None else rows
        block = Block(list(names), len(names), floats[:, at], tags[:, at], objs)
        out.append(
            SharedBlock([models[int(mine[i])] for i in order], renumber[local[at]],
                        positions[at], block)
        )  # fmt: skip
    return out


def _objects(
    column: tuple[list[Any], npt.NDArray[np.uint8], Any], rows: Int64Array | None
) -> Column:
    values, tags, _ = column
    out = np.empty(len(values), dtype=object)
    out[:] = values
    out[tags == ABSENT] = None
    return out if rows is None else out[rows]
