"""A mixed batch decoded once, by the native decoder (``native/``, Rust), split by model (pure).

``decode_mixed`` hands a batch's bytes and every registered model's feature names to the
extension module ``modelmon_native`` in one call; it returns the accepted events (delivery
order, epoch milliseconds, each event's model as a number) and their columns as one
``SharedBlock`` per column layout (all models whose plans list the same names), so the work
per batch does not grow with its number of models; each model's ``ModelGroup`` is cut from
them only when asked for (``blocks.Groups``). Messages the native decoder refuses (invalid
ones, and the rare valid forms it leaves to the reference, e.g. an ``event_time`` with a
``+05:30`` offset) are decoded by the pure-Python reference (``decode.decode_batch``): its
verdict and dead-letter reason stand, and a model with such an event keeps that batch's events
as ``inputs`` dicts. The typing rules both paths follow are stated once, in docs/decode.md.

The path is chosen per process with ``select`` (the aggregator passes ``MODELMON_NATIVE``;
``0`` forces the pure-Python path); without the extension (no Rust toolchain when the venv
was built) the pure-Python path is used. Which path is active is logged once.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from types import ModuleType
from typing import Any

import numpy as np

from modelmon.streaming.blocks import Block, Groups, ModelGroup, SharedBlock, join_layouts
from modelmon.streaming.decode import (
    MAX_MESSAGE_BYTES,
    DecodedBatch,
    Rejected,
    decode_batch,
    take,
)

log = logging.getLogger(__name__)

#: The result shape and rules version this module reads (``native/src/lib.rs`` ``ABI``).
ABI = 5
#: Feature names a model's events may carry beyond its config, per batch, before the native
#: decoder stops building columns for that model (its events then keep dicts, and the
#: feature cap, streaming/feature_cap.py, bounds what a flood of names costs).
MAX_EXTRA_NAMES = 64


def _load() -> ModuleType | None:
    try:
        module = importlib.import_module("modelmon_native")
    except ImportError:
        return None
    if getattr(module, "ABI", None) != ABI:
        log.warning("modelmon_native is a stale build (run scripts/venv.sh): using pure Python")
        return None
    return module


_NATIVE = _load()
_state: dict[str, Any] = {"enabled": _NATIVE is not None, "logged": None}


def available() -> bool:
    """True when the extension is built and current."""
    return _NATIVE is not None


def select(enabled: bool) -> str:
    """Use the native decoder when ``enabled`` and built; returns the active path's name."""
    _state["enabled"] = enabled and _NATIVE is not None
    name = active()
    if _state["logged"] != name:
        _state["logged"] = name
        why = "" if name == "native" or not enabled else " (native decoder not built)"
        log.info("capture decoding: %s path%s", name, why)
    return name


def active() -> str:
    return "native" if _state["enabled"] else "python"


def decode_mixed(
    values: Sequence[bytes | None], plans: Mapping[str, Sequence[str]]
) -> tuple[DecodedBatch, list[Rejected]] | None:
    """Decode once, natively, and split by model; None when the native path is off."""
    if not _state["enabled"] or _NATIVE is None:
        return None
    if _state["logged"] is None:
        select(True)
    raw = _NATIVE.decode_batch(
        list(values), _native_plans(plans), MAX_MESSAGE_BYTES, MAX_EXTRA_NAMES
    )
    index, event_ms, codes, models, shared_raw, groups_raw, refused = raw
    shared = [_shared(models, *raw) for raw in shared_raw]
    own: dict[str, ModelGroup] = {}
    for code, group_raw in groups_raw:  # models with names their plan does not list (rare)
        group = _group(*group_raw)
        if group.block is None:
            own[models[code]] = group
        else:
            alone = np.zeros(len(group.positions), dtype=np.int64)
            shared.append(SharedBlock([models[code]], alone, group.positions, group.block))
    if len(shared) > len(shared_raw):
        shared = join_layouts(shared)
    batch = DecodedBatch(
        index=index, event_ms=event_ms, model_ids=take(models, codes),
        groups=Groups(models, shared, own), model_codes=codes, shared=shared,
    )  # fmt: skip
    if not refused and not own:
        return batch, []
    return _with_reference(batch, values, refused)


_plans_cache: dict[int, tuple[Mapping[str, Sequence[str]], Any]] = {}


def _native_plans(plans: Mapping[str, Sequence[str]]) -> Any:
    """The plans as a native object, built once per plans mapping (the registry's reload)."""
    cached = _plans_cache.get(id(plans))
    if cached is not None and cached[0] is plans:
        return cached[1]
    assert _NATIVE is not None
    native = _NATIVE.Plans({model: list(features) for model, features in plans.items()})
    _plans_cache.clear()
    _plans_cache[id(plans)] = (plans, native)
    return native


def _shared(
    models: list[str], mine: list[int], codes: Any, positions: Any, names: list[str],
    planned: int, floats: Any, tags: Any, stride: int, objects: dict[str, Any],
) -> SharedBlock:  # fmt: skip
    rows = len(positions)
    shape = (len(names), stride)
    block = Block(
        names, planned, floats.reshape(shape)[:, :rows], tags.reshape(shape)[:, :rows], objects
    )
    return SharedBlock([models[c] for c in mine], codes, positions, block)


def _group(positions: Any, names: list[str] | None = None, *block: Any) -> ModelGroup:
    if names is None:  # too many names the plan does not list: the reference builds its dicts
        return ModelGroup(positions)
    planned, floats, tags, objects = block
    shape = (len(names), len(positions))
    return ModelGroup(
        positions, Block(names, planned, floats.reshape(shape), tags.reshape(shape), objects)
    )


def _with_reference(
    batch: DecodedBatch, values: Sequence[bytes | None], refused: list[int]
) -> tuple[DecodedBatch, list[Rejected]]:
    """The refused messages through the reference decoder; a model with one it accepts (or
    whose columns were abandoned) keeps this batch's events as dicts, decoded by it too."""
    assert isinstance(batch.groups, Groups) and batch.shared is not None
    extra, rejects = decode_batch([values[i] for i in refused])
    taken = np.asarray(refused, dtype=np.int64)[extra.index]
    rejects = [_moved(r, refused[r.index]) for r in rejects]
    redo = set(batch.groups.own) | set(extra.model_ids)
    if not len(taken) and not redo:
        return batch, rejects
    index = np.concatenate([batch.index, taken])
    order = np.argsort(index, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    model_ids = [*batch.model_ids, *extra.model_ids]
    names = list(batch.groups) + sorted(set(extra.model_ids) - set(batch.groups))
    code_of = {m: c for c, m in enumerate(names)}
    codes = np.fromiter(map(code_of.__getitem__, model_ids), np.int64, len(model_ids))
    shared: list[SharedBlock] = []
    for block in batch.shared:
        kept = block.without(redo)
        if kept is not None:  # positions in the merged batch: still ascending
            shared.append(replace(kept, positions=rank[kept.positions]))
    shared.sort(key=lambda s: s.models[0])  # a block's first model may have left it
    own: dict[str, ModelGroup] = {}
    for m in sorted(redo):
        positions = np.sort(rank[np.flatnonzero(codes == code_of[m])])
        raw = [values[int(i)] for i in index[order][positions].tolist()]
        dicts, _ = decode_batch(raw)
        if len(dicts) != len(raw):  # the native decoder accepted what the reference does not
            raise ValueError(f"native and reference decoders disagree on model {m!r}")
        own[m] = ModelGroup(positions, None, dicts.inputs)
    merged = DecodedBatch(
        index=index[order],
        event_ms=np.concatenate([batch.event_ms, extra.event_ms])[order],
        model_ids=take(model_ids, order),
        groups=Groups(names, shared, own),
        model_codes=codes[order],
        shared=shared,
    )
    return merged, rejects


def _moved(r: Rejected, index: int) -> Rejected:
    return Rejected(index, r.reason, r.error_type, r.model_id)
