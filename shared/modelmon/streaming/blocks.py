"""A mixed batch that the native decoder decoded once, as blocks of columns (pure: numpy).

The native decoder hands a batch over as ``SharedBlock``s: one per column layout (the models
whose plans list the same feature names, and whose rows need the same object columns), each
one ``Block`` (two matrices, features x rows, and the columns that keep Python values) over
all those models' rows, with each row's model as a number; so a batch over 1,000 models costs
a handful of Python objects per layout, not per model (issue 23). ``DecodedBatch.groups`` is
a ``Groups`` mapping: each model's ``ModelGroup`` (its batch positions and its own ``Block``,
or its ``inputs`` dicts) cut from the blocks only when asked for. The rules these columns
follow: docs/decode.md ("The typing rules").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from modelmon.profile.numbers import Numbers
from modelmon.streaming.decode import Column, Inputs, Int64Array, split_by_code, take


@dataclass(frozen=True, slots=True)
class ModelGroup:
    """One model's events in a mixed batch: their (sorted) ``positions`` in the batch, and
    their columns as a ``Block`` (the native decoder) or their ``inputs`` dicts."""

    positions: Int64Array
    block: Block | None = None
    inputs: list[Inputs] = field(default_factory=list)

    def subset(self, new_of_old: Int64Array) -> ModelGroup:
        """The events kept by a batch subset (``new_of_old``: new position, or -1 if dropped)."""
        moved = new_of_old[self.positions]
        rows = np.flatnonzero(moved >= 0)
        return ModelGroup(
            positions=moved[rows],
            block=None if self.block is None else self.block.take(rows),
            inputs=take(self.inputs, rows) if self.inputs else [],
        )


#: ``Block.tags`` values (native/src/batch.rs ``Tag``): what each row of a column holds.
ABSENT, MISSING, INT, FLOAT, BOOL, STR = range(6)


@dataclass(frozen=True, slots=True)
class Block:
    """A model's columns in one batch as two matrices (features x rows): ``floats`` (NaN where
    not a number) and ``tags`` (what each value was: ``ABSENT`` ... ``STR``); ``objects`` holds
    the columns that keep Python values (strings, bools, ints beyond 2**53). The first
    ``planned`` names are the model's configured features."""

    names: list[str]
    planned: int
    floats: npt.NDArray[np.float64]
    tags: npt.NDArray[np.uint8]
    objects: dict[str, Column]

    def take(self, rows: Int64Array) -> Block:
        objects = {name: col[rows] for name, col in self.objects.items()}
        return Block(self.names, self.planned, self.floats[:, rows], self.tags[:, rows], objects)

    def columns(self, rows: Int64Array) -> dict[str, Column | Numbers]:
        """The columns at these rows: every configured feature, and the others where one of
        these events has them (as the reference builds them from dicts)."""
        every = len(rows) == self.tags.shape[1]
        part = self if every else self.take(rows)
        ints = part.tags == INT
        has_int = ints.any(axis=1)
        present = (part.tags[self.planned :] != ABSENT).any(axis=1)
        out: dict[str, Column | Numbers] = {}
        for j, name in enumerate(self.names):
            if j >= self.planned and not present[j - self.planned]:
                continue
            obj = part.objects.get(name)
            if obj is not None:
                out[name] = obj
            else:
                out[name] = Numbers(part.floats[j], ints[j] if has_int[j] else None)
        return out


@dataclass(frozen=True, slots=True)
class SharedBlock:
    """The events of every model of a batch whose columns have one layout (the same ``names``,
    ``planned`` and object columns), as one ``Block``: row ``r`` is batch position
    ``positions[r]`` (ascending) of model ``models[codes[r]]`` (``models`` sorted). The
    aggregator folds many small models in with array operations over it (issue 23: the cost
    per batch, not per model). The native decoder builds these directly (docs/decode.md)."""

    models: list[str]
    codes: Int64Array
    positions: Int64Array
    block: Block

    def subset(self, new_of_old: Int64Array) -> SharedBlock:
        """The rows kept by a batch subset (``new_of_old``: new position, or -1 if dropped);
        every model stays listed, with no row if it lost them all."""
        moved = new_of_old[self.positions]
        rows = np.flatnonzero(moved >= 0)
        if len(rows) == len(moved):
            return SharedBlock(self.models, self.codes, moved, self.block)
        return SharedBlock(self.models, self.codes[rows], moved[rows], self.block.take(rows))

    def without(self, dropped: set[str]) -> SharedBlock | None:
        """The block without these models' rows (None when no model is left)."""
        kept = [m for m in self.models if m not in dropped]
        if len(kept) == len(self.models):
            return self
        if not kept:
            return None
        renumber = np.full(len(self.models), -1, dtype=np.int64)
        renumber[[self.models.index(m) for m in kept]] = np.arange(len(kept), dtype=np.int64)
        new = renumber[self.codes]
        rows = np.flatnonzero(new >= 0)
        return SharedBlock(kept, new[rows], self.positions[rows], self.block.take(rows))


def layout(block: Block) -> tuple[tuple[str, ...], int, frozenset[str]]:
    """What must be equal for two models' blocks to share one: names, planned, object columns."""
    return tuple(block.names), block.planned, frozenset(block.objects)


def shared_blocks(groups: Mapping[str, ModelGroup]) -> tuple[list[SharedBlock], list[str]]:
    """The groups' blocks joined per layout (sorted by model within a layout, rows in batch
    order; layouts in the order of their first model), and the models that keep ``inputs``
    dicts (no block), sorted."""
    if isinstance(groups, Groups):
        return groups.shared, groups.kept_dicts()
    alone: list[SharedBlock] = []
    rest: list[str] = []
    for model in sorted(groups):
        group = groups[model]
        if group.block is None:
            rest.append(model)
        else:
            codes = np.zeros(len(group.positions), dtype=np.int64)
            alone.append(SharedBlock([model], codes, group.positions, group.block))
    return join_layouts(alone), rest


def join_layouts(parts: list[SharedBlock]) -> list[SharedBlock]:
    """Blocks of equal layout joined into one (no model in two parts), ordered by first model."""
    by_layout: dict[tuple[tuple[str, ...], int, frozenset[str]], list[SharedBlock]] = {}
    for part in parts:
        by_layout.setdefault(layout(part.block), []).append(part)
    joined = [_joined(same) if len(same) > 1 else same[0] for same in by_layout.values()]
    return sorted(joined, key=lambda s: s.models[0])


def _joined(parts: list[SharedBlock]) -> SharedBlock:
    models = sorted(m for p in parts for m in p.models)
    code_of = {m: c for c, m in enumerate(models)}
    positions = np.concatenate([p.positions for p in parts])
    codes = np.concatenate(
        [np.asarray([code_of[m] for m in p.models], dtype=np.int64)[p.codes] for p in parts]
    )
    order = np.argsort(positions, kind="stable")
    blocks = [p.block for p in parts]
    first = blocks[0]
    objects = {
        name: np.concatenate([b.objects[name] for b in blocks])[order] for name in first.objects
    }
    block = Block(
        first.names,
        first.planned,
        np.concatenate([b.floats for b in blocks], axis=1)[:, order],
        np.concatenate([b.tags for b in blocks], axis=1)[:, order],
        objects,
    )
    return SharedBlock(models, codes[order], positions[order], block)


class Groups(Mapping[str, ModelGroup]):
    """A batch's ``ModelGroup`` per model (in the batch's model order), cut from its shared
    blocks only when asked for: a batch over 1,000 models costs about what one model costs
    when nobody asks for per-model groups. ``own`` holds the models outside the blocks (their
    events kept as ``inputs`` dicts)."""

    def __init__(
        self, models: list[str], shared: list[SharedBlock], own: dict[str, ModelGroup]
    ) -> None:
        self.models = models
        self.shared = shared
        self.own = own
        self._where: dict[str, tuple[int, int]] | None = None
        self._splits: dict[int, list[Int64Array]] = {}

    def __iter__(self) -> Iterator[str]:
        return iter(self.models)

    def __len__(self) -> int:
        return len(self.models)

    def __contains__(self, model: object) -> bool:
        return model in self.own or model in self._located()

    def __getitem__(self, model: str) -> ModelGroup:
        group = self.own.get(model)
        if group is not None:
            return group
        b, code = self._located()[model]
        s, rows = self.shared[b], self._rows(b, code)
        block = s.block if len(rows) == len(s.positions) else s.block.take(rows)
        return ModelGroup(s.positions[rows], block)

    def kept_dicts(self) -> list[str]:
        """The models whose events keep ``inputs`` dicts, sorted."""
        return sorted(m for m, g in self.own.items() if g.block is None)

    def columns(self, model: str, positions: Int64Array) -> dict[str, Column | Numbers] | None:
        """``Block.columns`` of one model's events at these (sorted) batch positions, straight
        from its shared block; None when the model keeps ``inputs`` dicts."""
        group = self.own.get(model)
        if group is not None:
            if group.block is None:
                return None
            return group.block.columns(np.searchsorted(group.positions, positions))
        located = self._located().get(model)
        if located is None:
            return None
        s = self.shared[located[0]]
        return s.block.columns(np.searchsorted(s.positions, positions))

    def subset(self, new_of_old: Int64Array) -> Groups:
        """The groups of a batch subset (``new_of_old``: new position, or -1 if dropped)."""
        own = {m: g.subset(new_of_old) for m, g in self.own.items()}
        return Groups(self.models, [s.subset(new_of_old) for s in self.shared], own)

    def _located(self) -> dict[str, tuple[int, int]]:
        if self._where is None:
            self._where = {
                m: (b, code) for b, s in enumerate(self.shared) for code, m in enumerate(s.models)
            }
        return self._where

    def _rows(self, b: int, code: int) -> Int64Array:
        s = self.shared[b]
        if len(s.models) == 1:
            return np.arange(len(s.positions), dtype=np.int64)
        split = self._splits.get(b)
        if split is None:
            split = self._splits[b] = split_by_code(s.codes, len(s.models))
        return split[code]


def columns_of(
    groups: Mapping[str, ModelGroup], model: str, positions: Int64Array
) -> dict[str, Column | Numbers] | None:
    """A model's columns at these (sorted) batch positions, or None when it keeps dicts."""
    if isinstance(groups, Groups):
        return groups.columns(model, positions)
    group = groups.get(model)
    if group is None or group.block is None:
        return None
    return group.block.columns(np.searchsorted(group.positions, positions))


def subset_groups(
    groups: Mapping[str, ModelGroup], new_of_old: Int64Array
) -> Mapping[str, ModelGroup]:
    """The groups of a batch subset (``new_of_old``: new position, or -1 if dropped)."""
    if isinstance(groups, Groups):
        return groups.subset(new_of_old)
    return {m: g.subset(new_of_old) for m, g in groups.items()}
