"""One model's part of a mixed batch that the native decoder decoded once (pure: numpy).

``DecodedBatch.groups`` maps each model of a batch to a ``ModelGroup``: the batch positions of
its events and its columns as a ``Block``, two matrices (features x rows) and the columns that
keep Python values, so the decoder hands over a handful of objects per model and batch whatever
its number of features; a window's columns are cut from it when the aggregator folds them in.
The rules these columns follow: docs/decode.md ("The typing rules").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from modelmon.profile.numbers import Numbers
from modelmon.streaming.decode import Column, Inputs, Int64Array, take


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
    ``positions[r]`` (ascending) of model ``models[codes[r]]``. The aggregator folds many small
    models in with array operations over it (issue 23: the cost per batch, not per model)."""

    models: list[str]
    codes: Int64Array
    positions: Int64Array
    block: Block


def layout(block: Block) -> tuple[tuple[str, ...], int, frozenset[str]]:
    """What must be equal for two models' blocks to share one: names, planned, object columns."""
    return tuple(block.names), block.planned, frozenset(block.objects)


def shared_blocks(groups: Mapping[str, ModelGroup]) -> tuple[list[SharedBlock], list[str]]:
    """The groups' blocks joined per layout (sorted by model within a layout, rows in batch
    order), and the models that keep ``inputs`` dicts (no block), sorted."""
    by_layout: dict[tuple[tuple[str, ...], int, frozenset[str]], list[str]] = {}
    rest: list[str] = []
    for model in sorted(groups):
        block = groups[model].block
        if block is None:
            rest.append(model)
        else:
            by_layout.setdefault(layout(block), []).append(model)
    return [_joined(models, groups) for models in by_layout.values()], rest


def _joined(models: list[str], groups: Mapping[str, ModelGroup]) -> SharedBlock:
    parts = [groups[m] for m in models]
    blocks = [g.block for g in parts if g.block is not None]
    if len(parts) == 1:
        codes = np.zeros(len(parts[0].positions), dtype=np.int64)
        return SharedBlock(models, codes, parts[0].positions, blocks[0])
    positions = np.concatenate([g.positions for g in parts])
    codes = np.repeat(np.arange(len(parts), dtype=np.int64), [len(g.positions) for g in parts])
    order = np.argsort(positions, kind="stable")
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
