"""Peer ratios from interleaved rounds (issue 20 item 5).

On a shared machine one noisy minute can make or break a ratio measured once. ``interleaved``
runs modelmon and the peer alternately (modelmon, peer, modelmon, peer, ...), takes each
round's ratio from two runs that sat side by side in time, and reports the median ratio with
the spread of the rounds, so the summary shows how much the figure moved within the run.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
ROUNDS = 3


@dataclass
class Rounds(Generic[T]):
    """Each round's modelmon figure, peer result and ratio (higher = modelmon better)."""

    ours: list[float] = field(default_factory=list)
    peer: list[T] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    @property
    def median_ours(self) -> float:
        return statistics.median(self.ours)

    def spread(self) -> str:
        """``5.1–6.3× over 3 rounds``."""
        return f"{min(self.ratios):.1f}–{max(self.ratios):.1f}× over {len(self.ratios)} rounds"

    def text(self) -> str:
        """``5.9× (5.1–6.3× over 3 rounds)``: the median ratio and its spread."""
        return f"{self.ratio:.1f}× ({self.spread()})"


def interleaved(
    ours: Callable[[], float],
    peer: Callable[[], T | None],
    ratio: Callable[[float, T], float],
    rounds: int = ROUNDS,
    log: Callable[[str], None] = lambda _msg: None,
) -> Rounds[T] | None:
    """``rounds`` rounds of (ours(), peer()); None when the peer is unavailable (it returned
    None in the first round: nothing to compare with)."""
    out: Rounds[T] = Rounds()
    for i in range(rounds):
        mine = ours()
        theirs = peer()
        if theirs is None:
            return out if out.ratios else None
        out.ours.append(mine)
        out.peer.append(theirs)
        out.ratios.append(ratio(mine, theirs))
        log(f"round {i + 1}/{rounds}: ratio {out.ratios[-1]:.2f}")
    return out
