"""A minimal faust-streaming agent: decode each capture event, update a windowed table.

Run by bench/faust/compare.py in .venvs/faust (never modelmon's venv). It prints one line,
``<events> <wall seconds> <cpu seconds>``, measured from the first event to the N-th, then exits.
Environment: FAUST_TOPIC, FAUST_EVENTS, FAUST_GUARANTEE (at_least_once | exactly_once),
FAUST_BROKER (default kafka://127.0.0.1:9092).
"""

from __future__ import annotations

import os
import sys
import time
import uuid

import aiokafka
import orjson

import faust


def _drop_api_version(cls: type) -> None:
    """faust-streaming 0.11 passes api_version, which aiokafka >= 0.13 (the first that speaks
    to Kafka 4 brokers) no longer accepts: drop it."""
    init = cls.__init__

    def patched(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.pop("api_version", None)
        init(self, *args, **kwargs)

    cls.__init__ = patched


for _cls in (aiokafka.AIOKafkaProducer, aiokafka.AIOKafkaConsumer):
    _drop_api_version(_cls)

TOPIC = os.environ["FAUST_TOPIC"]
TOTAL = int(os.environ["FAUST_EVENTS"])
TABLES = os.environ.get("FAUST_TABLES", "1") == "1"
plain: dict[str, float] = {}
app = faust.App(
    os.environ.get("FAUST_APP_ID", f"bench-faust-{uuid.uuid4().hex[:8]}"),
    broker=os.environ.get("FAUST_BROKER", "kafka://127.0.0.1:9092"),
    store="memory://",
    processing_guarantee=os.environ.get("FAUST_GUARANTEE", "at_least_once"),
    topic_partitions=3,
    web_enabled=False,
    # faust's own topic creation speaks a request format aiokafka >= 0.13 dropped:
    # compare.py creates the changelog and assignor topics (FAUST_APP_ID) beforehand
    topic_allow_declare=False,
)
source = app.topic(TOPIC, key_type=bytes, value_type=bytes, value_serializer="raw")
# per (model, 10-second window): event count and the sum of one feature
counts = app.Table("counts", default=int, partitions=3).tumbling(10, expires=3600)
sums = app.Table("sums", default=float, partitions=3).tumbling(10, expires=3600)
state = {"n": 0, "t0": 0.0, "c0": 0.0}


@app.agent(source)
async def aggregate(stream: faust.StreamT) -> None:
    async for value in stream:
        event = orjson.loads(value)
        model = event["model_id"]
        if TABLES:
            counts[model] += 1
            sums[model] += event["inputs"]["n00"]
        else:  # the same work in a plain dict: the consumer path without changelogs
            plain[model] = plain.get(model, 0) + event["inputs"]["n00"]
        state["n"] += 1
        if state["n"] == 1:
            state["t0"], state["c0"] = time.perf_counter(), time.process_time()
        if state["n"] >= TOTAL:
            wall = time.perf_counter() - state["t0"]
            cpu = time.process_time() - state["c0"]
            print(f"] {state['n']} {wall:.3f} {cpu:.3f}", flush=True)
            os._exit(0)


if __name__ == "__main__":
    sys.argv[1:] = ["worker", "-l", "warn"]
    app.main()
