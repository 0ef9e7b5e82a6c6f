"""Columnar decoding of capture messages (pure: msgspec + numpy).

Two paths, with equal results for a model's configured features:

- ``TypedDecoder`` (a model whose config lists its features; the aggregator's usual path):
  events decode into ``gc=False`` structs 128 at a time, are transposed into one tuple per
  feature while still in the CPU cache, and become numpy columns (``Numbers`` for numeric
  features); event times are parsed per batch (``timestamps.epoch_millis``). Any surprise
  declines the whole batch to the generic path.
- ``decode_batch``: events decode into dicts, columns are built with C-level iteration
  (``map(dict.get, ...)``); a message that fails to decode is returned as a rejection, with
  the reason, for the dead-letter topic, and the rest of the batch goes on.

Neither runs a Python loop per field per event. docs/decisions/0002-aggregator-throughput.md
has the measurements behind these choices.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain, repeat
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
import numpy as np
import numpy.typing as npt

from modelmon.profile.numbers import Numbers
from modelmon.streaming.poison import DECODE_ERRORS, reason, reason_code
from modelmon.streaming.timestamps import epoch_millis
from modelmon.validation import OTHER_FIELDS, CaptureStruct, Int64

if TYPE_CHECKING:
    from modelmon.streaming.blocks import ModelGroup, SharedBlock

Int64Array = npt.NDArray[np.int64]
Column = npt.NDArray[Any]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
Scalar = str | int | float | bool | None
Inputs = dict[str, Scalar]

#: Largest capture message the aggregator profiles (the ingest path enforces its own limit).
MAX_MESSAGE_BYTES = 1024 * 1024


def _all_fit(values: Sequence[bytes | None]) -> bool:
    """True when every message has a value within ``MAX_MESSAGE_BYTES`` (checked at C level)."""
    try:
        return max(map(len, values), default=0) <= MAX_MESSAGE_BYTES  # type: ignore[arg-type]
    except TypeError:  # a message without a value
        return False


#: The aggregator decodes with the one validator's struct: its verdicts are every consumer's.
_Capture = Any  # a CaptureStruct (built by msgspec.defstruct: not a static type)


_DECODER = msgspec.json.Decoder(CaptureStruct)
_MODEL_ONLY = msgspec.json.Decoder(dict[str, Any])
_model_id = operator.attrgetter("model_id")
_event_time = operator.attrgetter("event_time")
_inputs = operator.attrgetter("inputs")
_astuple = msgspec.structs.astuple


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message that cannot be profiled, and why."""

    index: int  # position in the batch handed to decode_batch
    reason: str
    error_type: str
    model_id: str | None = None


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    """Decoded events of one batch in delivery order; ``index`` maps back into the batch.

    The generic decoder keeps each event's ``inputs`` dict; a model's ``TypedDecoder`` builds
    whole ``columns`` instead (and ``model_id``: every event is that model's). Either way
    ``columns_at`` gives the feature columns of some of the events.
    """

    index: Int64Array
    event_ms: Int64Array
    model_ids: list[str]
    inputs: list[Inputs] = field(default_factory=list)
    columns: dict[str, Column | Numbers] | None = None
    model_id: str | None = None
    #: A mixed batch decoded once (streaming/native_decode.py): each model's events and columns
    #: (``blocks.Groups`` from the native decoder: cut from ``shared`` when asked for), and each
    #: event's model as a number (``model_codes`` indexes ``list(groups)``).
    groups: Mapping[str, ModelGroup] | None = None
    model_codes: Int64Array | None = None
    #: The same events per column layout (``blocks.SharedBlock``), as the native decoder built
    #: them (the models of ``groups`` that keep ``inputs`` dicts are in no block);
    #: ``shared_blocks()`` joins ``groups`` when this is None.
    shared: list[SharedBlock] | None = None

    def shared_blocks(self) -> tuple[list[SharedBlock], list[str]] | None:
        """The batch's models joined per column layout, and the models that keep ``inputs``
        dicts; None for a batch that is not a mixed, natively decoded one."""
        if self.groups is None:
            return None
        from modelmon.streaming.blocks import shared_blocks  # blocks imports this module

        return shared_blocks(self.groups)

    def __len__(self) -> int:
        return len(self.event_ms)

    def models(self) -> tuple[list[str], Int64Array]:
        """The batch's model ids and, per event, the number of its model in that list."""
        if self.model_id is not None:  # one model's batch (a typed decode)
            return [self.model_id], np.zeros(len(self), dtype=np.int64)
        if self.groups is not None and self.model_codes is not None:
            return list(self.groups), self.model_codes
        names, inverse = np.unique(np.asarray(self.model_ids, dtype=object), return_inverse=True)
        return names.tolist(), inverse.astype(np.int64)

    def typed_columns(
        self, positions: Int64Array, configured: Iterable[str], model_id: str | None = None
    ) -> dict[str, Column | Numbers] | None:
        """Columns built at decode time for these (sorted) positions, or None when this batch
        (or this model's part of it) keeps ``inputs`` dicts instead."""
        if self.columns is not None:
            return _take_columns(self.columns, positions, len(self))
        if self.groups is None or model_id is None:
            return None
        from modelmon.streaming.blocks import columns_of  # blocks imports this module

        cols = columns_of(self.groups, model_id, positions)
        if cols is None:
            return None
        for name in configured:  # a model registered after this batch was decoded
            if name not in cols:
                cols[name] = _objects([None] * len(positions))
        return cols

    def rows_at(self, positions: Int64Array, model_id: str | None = None) -> list[Inputs]:
        """The ``inputs`` dicts of these events (a batch or a model's part that keeps them)."""
        if self.groups is not None and model_id is not None and model_id in self.groups:
            group = self.groups[model_id]
            return take(group.inputs, np.searchsorted(group.positions, positions))
        return take(self.inputs, positions)

    def columns_at(
        self, positions: Int64Array, configured: Iterable[str], model_id: str | None = None
    ) -> dict[str, Column | Numbers]:
        """The columns of the events at these (sorted) positions of the batch."""
        cols = self.typed_columns(positions, configured, model_id)
        if cols is not None:
            return cols
        rows = self.rows_at(positions, model_id)
        return columns(rows, feature_names(rows, configured))

    def subset(self, positions: Int64Array) -> DecodedBatch:
        """The events at these (sorted) positions, as a batch of its own."""
        groups = codes = None
        if self.groups is not None and self.model_codes is not None:
            from modelmon.streaming.blocks import subset_groups  # blocks imports this module

            new_of_old = np.full(len(self), -1, dtype=np.int64)
            new_of_old[positions] = np.arange(len(positions), dtype=np.int64)
            groups = subset_groups(self.groups, new_of_old)
            codes = self.model_codes[positions]
        return DecodedBatch(
            index=self.index[positions],
            event_ms=self.event_ms[positions],
            model_ids=take(self.model_ids, positions),
            inputs=take(self.inputs, positions) if self.inputs else [],
            columns=None if self.columns is None else _take_columns(self.columns, positions, -1),
            model_id=self.model_id,
            groups=groups,
            model_codes=codes,
            shared=getattr(groups, "shared", None),
        )


def _take_columns(
    cols: Mapping[str, Column | Numbers], rows: Int64Array, n: int
) -> dict[str, Column | Numbers]:
    if len(rows) == n:  # every row, in order
        return dict(cols)
    return {name: col[rows] if isinstance(col, np.ndarray) else col.take(rows)
            for name, col in cols.items()}  # fmt: skip


def decode_batch(values: Sequence[bytes | None]) -> tuple[DecodedBatch, list[Rejected]]:
    """Decode capture messages; undecodable ones come back as ``Rejected``."""
    try:
        if not _all_fit(values):
            raise ValueError("fall back to one-by-one")
        events: list[_Capture] = list(map(_DECODER.decode, values))  # type: ignore[arg-type]
        index = np.arange(len(values), dtype=np.int64)
        rejects: list[Rejected] = []
    except DECODE_ERRORS:  # any bad message: isolate it (streaming/poison.py)
        events, kept, rejects = _decode_one_by_one(values)
        index = np.asarray(kept, dtype=np.int64)
    return _columns_of(events, index), rejects


def _decode_one_by_one(
    values: Sequence[bytes | None],
) -> tuple[list[_Capture], list[int], list[Rejected]]:
    events: list[_Capture] = []
    kept: list[int] = []
    rejects: list[Rejected] = []
    for i, value in enumerate(values):
        if value is None:
            rejects.append(Rejected(i, reason("no_value", "message has no value"), _INVALID))
        elif len(value) > MAX_MESSAGE_BYTES:
            text = f"message of {len(value)} bytes exceeds {MAX_MESSAGE_BYTES}"
            rejects.append(Rejected(i, reason("oversize", text), _INVALID))
        else:
            try:
                events.append(_DECODER.decode(value))
                kept.append(i)
            except DECODE_ERRORS as exc:
                text = reason(reason_code(exc), f"not a valid capture event: {exc}")
                rejects.append(Rejected(i, text, _INVALID, _sniff_model(value)))
    return events, kept, rejects


_INVALID = "InvalidEventError"


def _sniff_model(value: bytes) -> str | None:
    try:
        model = _MODEL_ONLY.decode(value).get("model_id")
    except DECODE_ERRORS:
        return None
    return model if isinstance(model, str) and len(model) <= 128 else None


def _columns_of(events: Sequence[Any], index: Int64Array) -> DecodedBatch:
    return DecodedBatch(
        index=index,
        event_ms=_millis(list(map(_event_time, events))),
        model_ids=list(map(_model_id, events)),
        inputs=list(map(_inputs, events)),
    )


def _millis(times: Sequence[datetime]) -> Int64Array:
    """Aware datetimes to epoch milliseconds, floored, exactly (as ``epoch_millis``)."""
    return np.fromiter(
        map(operator.floordiv, map(operator.sub, times, repeat(_EPOCH)), repeat(_MILLISECOND)),
        dtype=np.int64,
        count=len(times),
    )


def split_by_code(codes: Int64Array, n: int) -> list[Int64Array]:
    """For each code ``0..n-1``, the (sorted) positions holding it: one stable sort."""
    if n == 1:
        return [np.arange(len(codes), dtype=np.int64)]
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes, minlength=n))[:-1]
    return np.split(order.astype(np.int64, copy=False), bounds)


def take(items: Sequence[Any], idx: npt.NDArray[np.intp] | npt.NDArray[np.int64]) -> list[Any]:
    """``[items[i] for i in idx]`` at C speed."""
    if len(idx) == 0:
        return []
    if len(idx) == 1:
        return [items[int(idx[0])]]
    return list(operator.itemgetter(*idx.tolist())(items))


def feature_names(inputs: Sequence[Inputs], configured: Iterable[str] = ()) -> list[str]:
    """Every feature name present in the batch, plus the configured ones."""
    names: set[str] = set(configured)
    names.update(*map(dict.keys, inputs))
    return sorted(names)


def column(inputs: Sequence[Inputs], name: str) -> Column | Numbers:
    """One feature: a numeric array when every value is a number of one type, ``Numbers``
    when ints and floats mix (each keeps its type), else objects."""
    values = list(map(dict.get, inputs, repeat(name)))
    if values and _not_numeric(values[0]):
        return _objects(values)
    try:
        arr = np.array(values)
    except (ValueError, OverflowError):
        arr = np.empty(0)
    if len(arr) != len(values) or arr.dtype.kind not in "biuf":
        return _objects(values)
    if arr.dtype.kind in "iu":  # ints, or ints and bools: each keeps its type as objects
        return arr if bool not in set(map(type, values)) else _objects(values)
    if arr.dtype.kind != "f":
        return arr
    numbers = Numbers.of(values, arr)  # floats, and maybe ints or bools among them
    if numbers is None or not numbers.exact_ints():
        return _objects(values)  # a bool, or an int a float cannot hold: objects
    return arr if numbers.integral is None else numbers


def _not_numeric(first: Any) -> bool:
    """True when a column starting with this value cannot become a numeric array (a string
    or None anywhere makes numpy choose text or objects): skip numpy's type discovery."""
    return first is None or type(first) is str


def _objects(values: Sequence[Any]) -> Column:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def columns(inputs: Sequence[Inputs], names: Iterable[str]) -> dict[str, Column | Numbers]:
    return {name: column(inputs, name) for name in names}


_KIND_TYPES: dict[str | None, Any] = {
    "numeric": Int64 | float | None,  # the one validator's integers (validation.py)
    "categorical": str | Int64 | float | bool | None,
    None: str | Int64 | float | bool | None,
}


#: Events decoded and turned into columns at a time: small enough that an event's objects are
#: still in the CPU cache when its values are copied out (about 1.7x faster than whole batches).
_CHUNK = 128


class TypedDecoder:
    """A faster decoder for one model whose features are all listed in its config.

    The inputs decode into a struct with one typed field per feature, and the batch becomes
    whole columns right away, chunk by chunk (numeric features as ``Numbers``). A message with
    an input the config does not list, another model's event, or any other surprise, makes
    ``decode`` return None: the caller falls back to ``decode_batch``, which keeps every column
    and isolates bad messages. Profiles equal the generic path's for configured features
    (absent = missing).
    """

    def __init__(self, model_id: str, kinds: Mapping[str, str | None]) -> None:
        self.model_id = model_id
        self.names = list(kinds)
        self._numeric = [kinds[n] == "numeric" for n in self.names]
        attrs = [f"f{i}" for i in range(len(self.names))]
        fields = [(a, _KIND_TYPES[kinds[n]], None) for a, n in zip(attrs, self.names, strict=True)]
        inputs = msgspec.defstruct(
            "TypedInputs", fields, rename=dict(zip(attrs, self.names, strict=True)),
            forbid_unknown_fields=True, frozen=True, gc=False,
        )  # fmt: skip
        capture = msgspec.defstruct(
            "TypedCapture",
            [("model_id", str), ("event_time", str),  # parsed per batch: epoch_millis
             ("inputs", inputs), *OTHER_FIELDS],  # the one validator's rules (validation.py)
            forbid_unknown_fields=True,
            gc=False,  # no reference cycles possible: keep the collector away from them
        )  # fmt: skip
        self.struct_type: type[Any] = capture
        self._decode_one = msgspec.json.Decoder(capture).decode
        self._declined = 0  # batches declined in a row
        self._resting = 0  # batches left to decline without trying (the data keeps surprising)

    def decode(self, values: Sequence[bytes | None]) -> DecodedBatch | None:
        if self._resting:
            self._resting -= 1
            return None
        try:
            batch = self._decode(values)
        except DECODE_ERRORS:
            self._declined += 1
            if self._declined >= 3:  # e.g. inputs the config does not list: stop trying a while
                self._declined, self._resting = 0, 100
            return None
        self._declined = 0
        return batch

    def _decode(self, values: Sequence[bytes | None]) -> DecodedBatch:
        if not _all_fit(values):
            raise ValueError("a message without a value or over the size limit")
        chunks = [self._chunk(values[i : i + _CHUNK]) for i in range(0, len(values), _CHUNK)]
        event_ms = _event_millis(list(chain.from_iterable(c[0] for c in chunks)))
        n = len(values)
        by_feature = list(zip(*(c[1] for c in chunks), strict=True)) if chunks else []
        cols: dict[str, Column | Numbers] = {}
        for i, name in enumerate(self.names):
            parts = by_feature[i] if by_feature else ()
            if self._numeric[i]:
                cols[name] = _numbers(parts)
            else:
                cols[name] = _objects(list(chain.from_iterable(parts)))
        return DecodedBatch(
            index=np.arange(n, dtype=np.int64),
            event_ms=event_ms,
            model_ids=[self.model_id] * n,
            columns=cols,
            model_id=self.model_id,
        )

    def _chunk(self, values: Sequence[bytes | None]) -> tuple[list[str], list[Any]]:
        """Decode some events and transpose their inputs into one value tuple per feature
        (numeric ones also converted to floats while their objects are in the CPU cache)."""
        events = list(map(self._decode_one, values))  # type: ignore[arg-type]
        if set(map(_model_id, events)) != {self.model_id}:
            raise ValueError("another model's events")
        stamps = list(map(_event_time, events))
        by_feature = zip(*map(_astuple, map(_inputs, events)), strict=True)
        return stamps, [
            (np.array(feature, dtype=np.float64), feature) if numeric else feature
            for numeric, feature in zip(self._numeric, by_feature, strict=True)
        ]


_UTC_DATETIME = Annotated[datetime, msgspec.Meta(tz=True)]


def _event_millis(times: list[str]) -> Int64Array:
    """Epoch milliseconds of the events' times: vectorised for the canonical forms, else one
    by one as msgspec decodes them (an invalid or zone-less time raises ValidationError)."""
    millis = epoch_millis(times)
    if millis is not None:
        return millis
    return _millis([msgspec.convert(t, _UTC_DATETIME) for t in times])


def _numbers(parts: Sequence[tuple[npt.NDArray[np.float64], tuple[Any, ...]]]) -> Numbers:
    """One numeric feature of a typed batch from its chunks (floats, and the decoded values:
    ints, floats and None only, as the typed struct admits no other)."""
    if not parts:
        return Numbers(np.empty(0))
    floats = parts[0][0] if len(parts) == 1 else np.concatenate([f for f, _ in parts])
    numbers = Numbers.typed(floats, lambda i: parts[i // _CHUNK][1][i % _CHUNK])
    if numbers is None:  # cannot happen: the struct admits no bools; decline if it did
        raise ValueError("a bool in a numeric feature")
    return numbers
