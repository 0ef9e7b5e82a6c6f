"""The demo's traffic generator: requests at a steady rate, phase after phase, over loopback.

Each request is one flat JSON object of named features, POSTed to the model's URL (the
capture proxy in the demo) with an ``X-Inference-Id`` header, so every request can be found
in the archive afterwards. The rate is bounded and only loopback addresses are allowed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import numpy as np
import orjson

from modelmon.demo.phases import Phase, draw_requests_and_labels
from modelmon.errors import ConfigurationError

MAX_RATE = 2000.0
MAX_IN_FLIGHT = 64
INFERENCE_ID_HEADER = "X-Inference-Id"


@dataclass
class PhaseReport:
    """What one phase sent, with wall-clock bounds (epoch seconds)."""

    name: str
    description: str
    started_at: float
    ended_at: float = 0.0
    sent: int = 0
    ok: int = 0
    failed: int = 0
    statuses: dict[str, int] = field(default_factory=dict)


def check_target(url: str, rate: float) -> None:
    """Refuse a non-loopback target or a rate outside (0, MAX_RATE]."""
    host = urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigurationError(f"traffic goes to loopback only; {url!r} is not (use 127.0.0.1)")
    if not 0 < rate <= MAX_RATE:
        raise ConfigurationError(f"--rate must be in (0, {MAX_RATE:g}] requests/s, got {rate:g}")


def schedule_table(phases: list[Phase]) -> str:
    """The schedule as printable lines, with start offsets."""
    lines, offset = [], 0.0
    for p in phases:
        lines.append(f"  {offset:6.0f}s  {p.name:<10} {p.duration_s:5.0f}s  {p.describe()}")
        offset += p.duration_s
    return "\n".join(lines)


class TrafficGenerator:
    """Sends the phases in order; ``stop()`` ends it early (Ctrl-C)."""

    def __init__(
        self,
        url: str,
        phases: list[Phase],
        rate: float,
        *,
        seed: int = 11,
        id_prefix: str = "demo",
        ids_file: Path | None = None,
        on_phase: Callable[[PhaseReport, bool], None] | None = None,
        on_label: Callable[[str, int], None] | None = None,
        label_delay_s: float = 0.0,
        on_answer: Callable[[str, dict[str, Any], Phase], None] | None = None,
    ) -> None:
        check_target(url, rate)
        #: every answered request (inference id, body, phase), e.g. to publish attributions
        self.on_answer = on_answer
        #: ground truth of each answered request, handed to ``on_label`` ``label_delay_s`` later
        self.on_label, self.label_delay_s = on_label, label_delay_s
        self._label_timers: list[asyncio.TimerHandle] = []
        self.url, self.phases, self.rate = url, phases, rate
        self.rng = np.random.default_rng(seed)
        self.id_prefix = id_prefix
        self.ids_file = ids_file
        self.on_phase = on_phase
        self.reports: list[PhaseReport] = []
        self._stopping = asyncio.Event()
        self._counter = 0

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> list[PhaseReport]:
        timeout = aiohttp.ClientTimeout(total=30)
        limit = aiohttp.TCPConnector(limit=MAX_IN_FLIGHT)
        ids = self.ids_file.open("a") if self.ids_file else None
        try:
            async with aiohttp.ClientSession(timeout=timeout, connector=limit) as session:
                for phase in self.phases:
                    if self._stopping.is_set():
                        break
                    await self._run_phase(session, phase, ids)
                if self._label_timers and not self._stopping.is_set():
                    with contextlib.suppress(TimeoutError):  # the last labels are on their way
                        await asyncio.wait_for(self._stopping.wait(), self.label_delay_s + 1)
        finally:
            for timer in self._label_timers:
                timer.cancel()
            if ids:
                ids.close()
        return self.reports

    async def _run_phase(self, session: aiohttp.ClientSession, phase: Phase, ids: Any) -> None:
        report = PhaseReport(phase.name, phase.describe(), time.time())
        self.reports.append(report)
        if self.on_phase:
            self.on_phase(report, False)
        total = max(1, round(phase.duration_s * self.rate))
        bodies, truths = draw_requests_and_labels(phase, self.rng, total)
        start = time.monotonic()
        tasks: set[asyncio.Task[None]] = set()
        for i, body in enumerate(bodies):
            delay = start + i / self.rate - time.monotonic()
            if delay > 0:
                try:
                    await asyncio.wait_for(self._stopping.wait(), delay)
                    break
                except TimeoutError:
                    pass
            elif self._stopping.is_set():
                break
            self._counter += 1
            inference_id = f"{self.id_prefix}-{self._counter:07d}"
            task = asyncio.create_task(
                self._send(session, body, inference_id, report, ids, truths[i], phase)
            )
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
        report.ended_at = time.time()
        if self.on_phase:
            self.on_phase(report, True)

    async def _send(
        self,
        session: aiohttp.ClientSession,
        body: dict[str, Any],
        inference_id: str,
        report: PhaseReport,
        ids: Any,
        truth: int | None = None,
        phase: Phase | None = None,
    ) -> None:
        report.sent += 1
        headers = {"Content-Type": "application/json", INFERENCE_ID_HEADER: inference_id}
        try:
            async with session.post(self.url, data=orjson.dumps(body), headers=headers) as resp:
                await resp.read()
                status = str(resp.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            status = type(exc).__name__
        report.statuses[status] = report.statuses.get(status, 0) + 1
        if status.startswith("2"):
            report.ok += 1
            if self.on_label is not None and truth is not None:
                loop = asyncio.get_running_loop()
                self._label_timers.append(
                    loop.call_later(self.label_delay_s, self.on_label, inference_id, truth)
                )
            if ids:
                ids.write(f"{inference_id}\t{report.name}\n")
            if self.on_answer is not None and phase is not None:
                self.on_answer(inference_id, body, phase)
        else:
            report.failed += 1


def report_lines(reports: list[PhaseReport]) -> list[str]:
    """One JSON line per phase, for the run directory."""
    return [orjson.dumps(asdict(r)).decode() for r in reports]
