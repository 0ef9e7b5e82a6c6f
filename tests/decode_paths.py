"""The tests that decode capture events, found while they run, so the suite can run them on both
decoders without running everything twice (scripts/test.sh, docs/decode.md "Testing both paths").

``--paths-report FILE`` (every run scripts/test.sh makes) writes, at the end, a JSON object: how
many tests were selected, ran and failed, and ``decoding``: the node ids of the tests that
decoded a capture batch. A test decodes when, during its set-up, call or tear-down,

- ``native_decode.decode_mixed`` (the one call ``MODELMON_NATIVE`` changes) ran in this process,
- a process the session started (a service, the demo, their children) called it for the first
  time, or had called it before and is still running, or
- a module- or session-scoped fixture it uses did either while it was set up (the demo's run, a
  module's aggregator).

``--decode-paths-only FILE`` (the second pass, ``MODELMON_NATIVE=0``) runs exactly the tests such
a report lists, and fails if one of them is not collected.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_PROBE = Path(__file__).parent / "decode_probe"
if str(_PROBE) not in sys.path:
    sys.path.append(str(_PROBE))

import decode_probe  # noqa: E402  (from the folder just added)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("decode paths", "which tests decode capture events (docs/decode.md)")
    group.addoption(
        "--paths-report", metavar="FILE", default=None,
        help="write how many tests ran and which of them decoded capture events",
    )  # fmt: skip
    group.addoption(
        "--decode-paths-only", metavar="FILE", default=None,
        help="run only the tests a --paths-report FILE lists as decoding",
    )  # fmt: skip


def configure(config: pytest.Config) -> None:
    """Registers the recorder (and the selection) the options ask for.

    Under pytest-xdist the workers record (their tests run there) and hand their lists to the
    controller, which counts the tests and writes the report.
    """
    report = config.getoption("--paths-report")
    worker = hasattr(config, "workerinput")
    controller = not worker and config.getoption("dist", "no") != "no"
    if report:
        recorder = None if controller else DecodeRecorder(config)
        if recorder is not None:
            config.pluginmanager.register(recorder, "decode-recorder")
        if not worker:
            config.pluginmanager.register(DecodeReport(Path(report), config, recorder))
    only = config.getoption("--decode-paths-only")
    if only:
        config.pluginmanager.register(OnlyDecoding(Path(only)), "decode-only")


class OnlyDecoding:
    """Deselects every test the report does not list as decoding."""

    def __init__(self, report: Path) -> None:
        self.wanted = list(json.loads(report.read_text())["decoding"])

    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        wanted = set(self.wanted)
        missing = wanted - {item.nodeid for item in items}
        if missing:
            shown = "\n  ".join(sorted(missing)[:20])
            raise pytest.UsageError(
                f"{len(missing)} test(s) that decode were not collected:\n  {shown}"
            )
        keep = [item for item in items if item.nodeid in wanted]
        dropped = [item for item in items if item.nodeid not in wanted]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = keep


class DecodeRecorder:
    """Notes the tests that decode (see the module's text), where the tests run."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.marks = Path(tempfile.mkdtemp(prefix="modelmon-decode-marks-"))
        os.environ[decode_probe.MARKS] = str(self.marks)
        path = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PROBE), path) if p)
        decode_probe.count_in_memory()
        from modelmon.streaming import native_decode

        decode_probe.watch(native_decode)
        self.flagged: set[Any] = set()  # the wider-scoped fixture definitions that decoded
        self.decoding: list[str] = []

    def _activity(self) -> tuple[int, frozenset[str]]:
        return decode_probe.calls, frozenset(os.listdir(self.marks))

    def _decoded_since(self, before: tuple[int, frozenset[str]]) -> bool:
        calls, marks = self._activity()
        return calls != before[0] or bool(marks - before[1])

    def _running_decoders(self) -> bool:
        return any(_running(int(name)) for name in os.listdir(self.marks))

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: Any) -> Iterator[Any]:
        before = self._activity()
        try:
            return (yield)
        finally:
            if fixturedef.scope != "function" and self._decoded_since(before):
                self.flagged.add(fixturedef)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Iterator[Any]:
        before = self._activity()
        running = self._running_decoders()
        result = yield
        if running or self._decoded_since(before) or self._uses_flagged(item):
            self.decoding.append(item.nodeid)
        return result

    def _uses_flagged(self, item: pytest.Item) -> bool:
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            return False
        return any(d in self.flagged for defs in info.name2fixturedefs.values() for d in defs)

    def pytest_sessionfinish(self) -> None:
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:  # an xdist worker: the controller writes the report
            workeroutput["decode_paths"] = list(self.decoding)
        shutil.rmtree(self.marks, ignore_errors=True)


class DecodeReport:
    """Counts the tests that ran and writes the report (the controller, under xdist)."""

    def __init__(self, report: Path, config: pytest.Config, recorder: DecodeRecorder | None):
        self.report = report
        self.config = config
        self.recorder = recorder
        self.from_workers: list[str] = []
        self.ran = 0

    def pytest_runtest_logfinish(self) -> None:
        self.ran += 1

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any) -> None:
        self.from_workers += getattr(node, "workeroutput", {}).get("decode_paths", [])

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        stats = getattr(self.config.pluginmanager.get_plugin("terminalreporter"), "stats", {})
        failed = len({r.nodeid for key in ("failed", "error") for r in stats.get(key, [])})
        decoding = self.recorder.decoding if self.recorder else sorted(self.from_workers)
        # selected: after deselection (an xdist controller has the workers' count only)
        selected = len(session.items) if self.recorder else session.testscollected
        body = {"ran": self.ran, "selected": selected, "failed": failed, "decoding": decoding}
        self.report.write_text(json.dumps(body, indent=1) + "\n")


def _running(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
