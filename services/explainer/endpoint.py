"""The model's HTTP endpoint as a prediction function for Kernel SHAP, within the request budget.

Every request takes a token from the model's bucket first. The service takes the tokens of a
whole explanation up front (all or nothing); a retry after a failure takes a new token, waiting
for it, so retries never push the endpoint past its rate either. A refused connection, a
timeout or a 5xx is a ``TransientError`` (retried with the one backoff, ``modelmon.retry``); a
4xx or an answer that is not one number per row is permanent (the event is dead-lettered).
"""

from __future__ import annotations

import io
import random
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson

from modelmon.errors import PermanentError, TransientError
from modelmon.explain.config import ExplainerConfig
from modelmon.explain.sampling import TokenBucket
from modelmon.retry import retry_transient

#: An answer larger than this is refused (a model answers one number per row).
MAX_ANSWER_BYTES = 64 * 1024 * 1024


class EndpointError(PermanentError):
    """The endpoint refused the request (4xx) or answered something that is not predictions."""


def encode_rows(rows: np.ndarray, content_type: str) -> bytes:
    if content_type == "text/csv":
        buffer = io.StringIO()
        np.savetxt(buffer, rows, delimiter=",", fmt="%.17g")
        return buffer.getvalue().encode()
    return orjson.dumps({"instances": rows.tolist()})


def decode_answer(body: bytes, n_rows: int, output_index: int) -> np.ndarray:
    """One number per row: CSV lines (first column, or ``output_index``), a JSON list (of
    numbers or of lists) or ``{"predictions": [...]}``."""
    try:
        text = body.strip()
        if text[:1] in (b"[", b"{"):
            doc = orjson.loads(text)
            if isinstance(doc, dict):
                doc = doc.get("predictions", doc.get("outputs"))
            values = [_pick(item, output_index) for item in doc]
        else:
            values = [_pick(line.split(b","), output_index) for line in text.splitlines()]
    except (orjson.JSONDecodeError, TypeError, ValueError, IndexError) as exc:
        raise EndpointError(f"the endpoint's answer is not one number per row: {exc}") from exc
    if len(values) != n_rows:
        raise EndpointError(f"the endpoint answered {len(values)} values for {n_rows} rows")
    return np.asarray(values, dtype=np.float64)


def _pick(item: Any, index: int) -> float:
    if isinstance(item, list):
        item = item[index] if len(item) > 1 else item[0]
    if isinstance(item, bytes):
        return float(item.strip())
    if isinstance(item, bool) or not isinstance(item, int | float):
        raise TypeError(f"not a number: {str(item)[:40]!r}")
    return float(item)


class EndpointPredictor:
    """Calls ``config.endpoint_url`` for rows in batches of ``max_batch_rows``; counts requests."""

    def __init__(
        self, config: ExplainerConfig, budget: TokenBucket, *, clock: Callable[[], float],
        wait: Callable[[float], bool], rand: Callable[[], float] = random.random,
        on_request: Callable[[str], None] = lambda _outcome: None,
    ) -> None:  # fmt: skip
        assert config.endpoint_url is not None
        self.config, self.budget, self._clock, self._wait = config, budget, clock, wait
        self._rand, self._on_request = rand, on_request
        self.requests = 0

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        rows = np.atleast_2d(np.asarray(rows, dtype=np.float64))
        step = self.config.max_batch_rows
        parts = [self._batch(rows[i : i + step]) for i in range(0, rows.shape[0], step)]
        return np.concatenate(parts) if parts else np.empty(0)

    def _batch(self, rows: np.ndarray) -> np.ndarray:
        first = [True]

        def attempt() -> np.ndarray:
            if not first[0]:
                self._take_token()  # a retry is a request too: it waits for its token
            first[0] = False
            return self._post(rows)

        return retry_transient(
            f"call the model endpoint of {self.config.endpoint_url}",
            attempt, wait=self._wait, rand=self._rand,
        )  # fmt: skip

    def _take_token(self) -> None:
        while not self.budget.try_take(1, self._clock()):
            if self._wait(max(0.001, self.budget.wait_time(1, self._clock()))):
                raise TransientError("stopping while waiting for the request budget")

    def _post(self, rows: np.ndarray) -> np.ndarray:
        config = self.config
        request = urllib.request.Request(
            str(config.endpoint_url), data=encode_rows(rows, config.content_type), method="POST",
            headers={"Content-Type": config.content_type, "Accept": "application/json, text/csv"},
        )  # fmt: skip
        self.requests += 1
        try:
            # endpoint_url is validated http(s) at registration (explain/config.py)
            with urllib.request.urlopen(request, timeout=config.timeout_seconds) as answer:  # nosec B310
                body = answer.read(MAX_ANSWER_BYTES + 1)
        except urllib.error.HTTPError as exc:
            self._on_request(f"http_{exc.code // 100}xx")
            if exc.code >= 500 or exc.code == 429:
                raise TransientError(f"the model endpoint answered {exc.code}") from exc
            raise EndpointError(f"the model endpoint answered {exc.code}") from exc
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            self._on_request("unreachable")
            raise TransientError(f"the model endpoint is unreachable: {exc}") from exc
        self._on_request("ok")
        if len(body) > MAX_ANSWER_BYTES:
            raise EndpointError("the model endpoint's answer is too large")
        return decode_answer(body, rows.shape[0], config.output_index)
