"""The replicates behind every ``standard_deviation``: SageMaker's method, made mergeable.

SageMaker computes a metric's standard deviation "by randomly sampling 80% of the data 5 times"
(only with >= 200 samples; else "NaN"). A random subsample is not mergeable, so each pair is put
in each of the 5 subsamples independently with probability 0.8, decided by a hash of its key
(the inference id; the row number in a batch file). The decision depends only on the key, so a
pair lands in the same replicates whichever partition, window or process sees it, merged states
equal the state of the union, and identical input gives identical results. Each state carries
layer 0 (every pair) plus one layer per replicate; the standard deviation is the sample standard
deviation (ddof=1) of the metric over the 5 replicate layers. Its error as an estimate of the
metric's spread is that of a 5-sample standard deviation: roughly +/-35% relative (1 sigma).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

#: Subsamples per state (SageMaker: 5).
REPLICATES: Final = 5
#: Share of the pairs each subsample keeps (SageMaker: 80%).
SUBSAMPLE: Final = 0.8
#: Layers in every state: all pairs, then each replicate.
LAYERS: Final = 1 + REPLICATES
#: Below this many pairs a standard deviation is "NaN" (SageMaker: 200).
MIN_SAMPLES_FOR_STD: Final = 200

_CUT: Final = int(SUBSAMPLE * 65536)
_PERSON: Final = b"modelmon.q1"

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def layer_weights(keys: Sequence[str]) -> IntArray:
    """0/1 weights of shape (LAYERS, n): row 0 all ones, row r the pairs in replicate r."""
    n = len(keys)
    weights = np.ones((LAYERS, n), dtype=np.int64)
    if n == 0:
        return weights
    digests = b"".join(
        hashlib.blake2b(k.encode("utf-8"), digest_size=2 * REPLICATES, person=_PERSON).digest()
        for k in keys
    )
    draws = np.frombuffer(digests, dtype="<u2").reshape(n, REPLICATES)
    weights[1:] = (draws < _CUT).T
    return weights


def spread(per_layer: FloatArray, samples: int) -> float:
    """The standard deviation of a metric over the replicate layers (NaN below 200 samples)."""
    if samples < MIN_SAMPLES_FOR_STD:
        return math.nan
    values = np.asarray(per_layer[1:], dtype=np.float64)
    if not np.all(np.isfinite(values)):
        return math.nan
    return float(np.std(values, ddof=1))
