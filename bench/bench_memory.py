"""Aggregator memory: RSS of `modelmon run aggregator` from 1M to 10M events (issue 5).

One aggregator process on a fresh 3-partition topic and Redis key prefix is fed 10M capture
events of bench_streaming's shape (21 numeric + 4 categorical features, ~520-byte JSON), with
event time advancing 10k events/s so 10-second windows keep closing. A producer thread stays at
most --ahead events ahead of what the aggregator has flushed, on a topic with small segments and
short retention, so the broker can drop what was consumed. The aggregator's RSS (VmRSS from
/proc) is read as the flushed count crosses 10%, 20%, 40%, 60%, 80% and 100% of --events
(1M, 2M, 4M, 6M, 8M, 10M by default).

Needs the local stack (`.venv/bin/modelmon stack up`). Markdown on stdout, progress on stderr.

Usage: .venv/bin/python bench/bench_memory.py [--events 10000000] [--ahead 1000000]
       [--timeout 2400]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from subprocess import Popen

import numpy as np
import orjson
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import NewTopic

from bench_streaming import (
    PARTITIONS,
    Stack,
    aggregator_env,
    bench_producer,
    config,
    cpu_seconds,
    events,
    rss_mib,
    send,
    service,
)
from modelmon.keys import Keys
from modelmon.registry import Registry
from modelmon.streaming.reader import StateReader
from summary import headline  # bench/ is the script's directory

T0 = 1_767_225_600_000  # 2026-01-01, as bench_streaming
SPACING_US = 100  # 10k events per second of event time: a 10 s window holds 100k events
MARKS = (0.1, 0.2, 0.4, 0.6, 0.8, 1.0)  # of --events: where RSS is read
TARGET = 0.10  # issue 5: flat within ±10% of the first mark
#: Small segments and retention so consumed data is deleted (per partition; the broker checks
#: retention every log.retention.check.interval.ms, 5 min by default).
TOPIC_CONFIG = {
    "segment.bytes": str(16 * 2**20),
    "retention.bytes": str(256 * 2**20),
    "retention.ms": str(10 * 60_000),
}


def log(msg: str) -> None:
    print(f"[bench_memory] {msg}", file=sys.stderr, flush=True)


# -- data -----------------------------------------------------------------------------------
def stamp(t_ms: int) -> bytes:
    """The event_time string bench_streaming.encode writes."""
    when = datetime.fromtimestamp(t_ms / 1000, UTC).isoformat(timespec="milliseconds")
    return when.replace("+00:00", "Z").encode()


def stream(n: int, pool_size: int, seed: int = 1) -> Iterator[bytes]:
    """``n`` events: a pool from bench_streaming.events(), each re-sent with a fresh event_id
    and its own event time (SPACING_US apart), spliced into the encoded bytes. Encoding 10M
    events one by one costs ~25 µs each here (4 CPU-minutes); splicing costs ~1 µs."""
    pool = list(events(pool_size, T0, SPACING_US, seed))
    a = pool[0].index(b'"event_id":"') + 12
    b = pool[0].index(b'"event_time":"') + 14
    if any(v[a - 12 : a] != b'"event_id":"' or v[b - 14 : b] != b'"event_time":"' for v in pool):
        raise ValueError("pool events do not share one layout")
    when, when_ms = b"", -1
    for i in range(n):
        t_ms = T0 + i * SPACING_US // 1000
        if t_ms != when_ms:
            when, when_ms = stamp(t_ms), t_ms
        v = pool[i % pool_size]
        yield b"".join((v[:a], b"%032x" % i, v[a + 32 : b], when, v[b + 24 :]))


def check_stream() -> None:
    """The spliced events decode to what they say (id, time) with the pool's inputs."""
    pool = list(events(3, T0, SPACING_US, 1))
    for i, v in enumerate(stream(25_001, 3)):
        if i % 12_500:
            continue
        doc, ref = orjson.loads(v), orjson.loads(pool[i % 3])
        assert doc["event_id"] == f"{i:032x}" and doc["inputs"] == ref["inputs"]
        assert doc["event_time"] == stamp(T0 + i * SPACING_US // 1000).decode()


# -- producing, paced -----------------------------------------------------------------------
@dataclass
class Progress:
    produced: int = 0
    flushed: int = 0
    stop: threading.Event = field(default_factory=threading.Event)


def feed(stack: Stack, topic: str, n: int, ahead: int, progress: Progress) -> None:
    """Produce ``n`` events, never more than ``ahead`` past the aggregator's flushed count."""
    producer = bench_producer(stack.settings)
    for i, value in enumerate(stream(n, 100_000), 1):
        send(producer, topic, value, i % PARTITIONS)
        if i % 10_000 == 0:
            producer.poll(0)
            progress.produced = i
            while i - progress.flushed > ahead and not progress.stop.is_set():
                producer.poll(0.1)
            if progress.stop.is_set():
                producer.purge()  # the rest is not needed: drop it quietly
                producer.flush(10)
                return
    if producer.flush(120):
        raise TimeoutError("producer could not deliver its last events in 120 s")
    progress.produced = n


# -- sampling -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sample:
    mark: int
    flushed: int
    rss: float  # VmRSS when the flushed count crossed the mark
    median: float  # median VmRSS over the span of events before the mark
    peak: float  # the highest RSS so far (VmHWM)
    seconds: float
    cpu: float


@dataclass
class Recorder:
    """Every RSS reading (about 4 a second) and the rows at the marks."""

    pid: int
    marks: list[int]
    span: int  # events before a mark whose readings give its median
    started: float = field(default_factory=time.monotonic)
    readings: list[tuple[int, float]] = field(default_factory=list)
    rows: list[Sample] = field(default_factory=list)
    top: float = 0.0

    def __post_init__(self) -> None:
        self.cpu0 = cpu_seconds(self.pid)

    def read(self, flushed: int) -> float:
        rss = rss_mib(self.pid)
        self.top = max(self.top, rss, peak_mib(self.pid))  # VmHWM can lag VmRSS a little
        self.readings.append((flushed, rss))
        while len(self.rows) < len(self.marks) and flushed >= self.marks[len(self.rows)]:
            mark = self.marks[len(self.rows)]
            span = [r for f, r in self.readings if f > mark - self.span]
            cpu = cpu_seconds(self.pid) - self.cpu0
            seconds = time.monotonic() - self.started
            median = float(np.median(span))
            self.rows.append(Sample(mark, flushed, rss, median, self.top, seconds, cpu))
        return rss

    @property
    def done(self) -> bool:
        return len(self.rows) == len(self.marks)


def peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def small_topic(stack: Stack) -> str:
    name = f"bench-memory-{uuid.uuid4().hex[:8]}"
    new = NewTopic(name, PARTITIONS, 1, config=TOPIC_CONFIG)
    stack.admin.create_topics([new])[name].result(30)
    stack.topics.append(name)
    time.sleep(1.0)  # leaders elected
    return name


def deleted(watcher: Consumer, reader: StateReader) -> int:
    """Events the broker has deleted; fails if any were deleted before the aggregator read them."""
    offsets = {
        p: watcher.get_watermark_offsets(TopicPartition(reader.topic, p), timeout=10)
        for p in range(PARTITIONS)
    }
    for p in reader.progress(offsets):
        if p.low_offset > (p.next_offset or 0):
            raise RuntimeError(
                f"partition {p.partition}: retention deleted events up to {p.low_offset:,} "
                f"but the aggregator had flushed only {p.next_offset or 0:,}; lower --ahead"
            )
    return sum(low for low, _ in offsets.values())


def sample(
    stack: Stack, proc: Popen[bytes], topic: str, prefix: str, args: argparse.Namespace
) -> list[Sample]:
    """Run the paced producer and read RSS as the flushed count crosses each mark."""
    marks = [int(args.events * m) for m in MARKS]
    recorder = Recorder(proc.pid, marks, args.events // 20)
    progress = Progress()
    reader = StateReader(stack.redis, Keys(prefix), topic)
    watcher = Consumer(stack.settings.kafka.librdkafka_config() | {"group.id": "bench-memory"})
    with ThreadPoolExecutor(1) as pool:
        # --ahead more than the last mark: the consumer's prefetch queue is as full at the
        # last mark as at the others (drained, it would hold up to ~64 MiB less)
        total = args.events + args.ahead
        fed = pool.submit(feed, stack, topic, total, args.ahead, progress)
        try:
            last_log = recorder.started
            while not recorder.done:
                alive(proc, fed, recorder.started + args.timeout)
                progress.flushed = flushed = stack.flushed(prefix, topic)
                rss, now = recorder.read(flushed), time.monotonic()
                if now - last_log >= 5 or recorder.done:
                    gone = deleted(watcher, reader)
                    log(
                        f"{now - recorder.started:6.0f}s produced {progress.produced:>10,} "
                        f"flushed {flushed:>10,} deleted by retention {gone:>10,} "
                        f"RSS {rss:6.1f} MiB"
                    )
                    last_log = now
                time.sleep(0.25)
        finally:
            progress.stop.set()
            watcher.close()
    return recorder.rows


def alive(proc: Popen[bytes], fed: Future[None], deadline: float) -> None:
    if proc.poll() is not None:
        raise RuntimeError(f"the aggregator exited with code {proc.returncode}")
    if fed.done():
        fed.result()  # re-raises the producer's error, if any
    if time.monotonic() > deadline:
        raise TimeoutError("the memory benchmark ran past --timeout")


def measure(stack: Stack, args: argparse.Namespace, tmp: Path) -> list[Sample]:
    topic, prefix = small_topic(stack), stack.prefix()
    Registry(stack.redis, Keys(prefix)).register(config(10, 5, 60))
    env = aggregator_env(prefix, topic)
    log(f"{args.events:,} events to {topic}, at most {args.ahead:,} ahead of the aggregator")
    proc = service("aggregator", env, tmp / "aggregator.log")
    try:
        return sample(stack, proc, topic, prefix, args)
    finally:
        proc.terminate()
        proc.wait(60)
        tail = (tmp / "aggregator.log").read_text(errors="replace").strip()
        if tail:
            log(f"aggregator log (tail):\n{tail[-2000:]}")


# -- report ---------------------------------------------------------------------------------
def report(rows: list[Sample], args: argparse.Namespace) -> None:
    first, last, span = rows[0], rows[-1], args.events // 20
    devs = [r.median / first.median - 1 for r in rows]
    worst = max(devs, key=abs)
    instant = max((r.rss / first.rss - 1 for r in rows), key=abs)
    met = abs(worst) <= TARGET
    print(f"## Memory: aggregator RSS from {first.mark:,} to {last.mark:,} events\n")
    print(
        f"One `modelmon run aggregator` process, {PARTITIONS} partitions, 25 features (21 "
        "numeric, 4 categorical), ~520-byte JSON capture events, 10-second windows (5 s "
        f"lateness), event time advancing 10k events/s ({last.mark // 100_000:,} windows over "
        f"the run); the producer stayed at most {args.ahead:,} events ahead of the flushed "
        "offsets (and went on past the last mark, so the consumer's prefetch queue was as full "
        "there as at the others). RSS is VmRSS from /proc, read about 4 times a second: at the "
        f"moment the flushed count crossed each mark, and the median of the readings over the "
        f"{span:,} events before it (one reading swings by ±10% with the consumer's prefetch "
        "queue and the allocator, so the target is checked on the median); the peak is the "
        "highest RSS so far (VmHWM).\n"
    )
    print(
        f"| mark | flushed | RSS at mark MiB | median RSS MiB | vs {first.mark:,} (median) "
        "| peak RSS so far MiB | elapsed s |"
    )
    print("|---|---|---|---|---|---|---|")
    for r, d in zip(rows, devs, strict=True):
        print(
            f"| {r.mark:,} | {r.flushed:,} | {r.rss:.1f} | {r.median:.1f} | {d * 100:+.1f}% "
            f"| {r.peak:.1f} | {r.seconds:.0f} |"
        )
    print(
        f"\nMax deviation of the median from its {first.mark:,}-event value: "
        f"{worst * 100:+.1f}% (target flat ±{TARGET:.0%}): **{'met' if met else 'not met'}** "
        f"(single readings at the marks: {instant * 100:+.1f}%). Aggregator over the run: "
        f"{last.flushed / last.seconds:,.0f} events/s wall, "
        f"{last.flushed / last.cpu:,.0f} events/CPU-s.\n"
    )
    headline("memory", f"aggregator RSS, {first.mark:,} -> {last.mark:,} events flushed "
             f"(median over the {span:,} events before each of {len(rows)} marks; 25 "
             "features, 10 s windows)",
             f"{first.median:.0f} -> {last.median:.0f} MiB (max {worst * 100:+.1f}%)",
             target="flat ±10%", met=met)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--ahead", type=int, default=1_000_000)
    parser.add_argument("--timeout", type=float, default=2400, help="seconds, whole run")
    args = parser.parse_args()
    check_stream()
    stack = Stack()
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmpdir:
        started = time.monotonic()
        try:
            rows = measure(stack, args, Path(tmpdir))
        finally:
            stack.cleanup()
        log(f"done in {time.monotonic() - started:.0f}s")
    report(rows, args)


if __name__ == "__main__":
    main()
