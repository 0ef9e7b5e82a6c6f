"""Progress of a long read on stderr: a bar on a terminal, plain lines otherwise.

On a terminal (``stream.isatty()``) a tqdm bar over the bytes to read, with files and rows
beside it; in logs, CI and pipes one plain line every ``interval`` seconds and always the
last one, so output stays greppable and never fills a log with carriage returns.
"""

from __future__ import annotations

import time
from typing import Any, TextIO

from modelmon.readers import ReadProgress


class ProgressPrinter:
    """A ``progress`` callback for DataReader (see the module docstring)."""

    def __init__(
        self, stream: TextIO, label: str, interval: float = 1.0, bar: bool | None = None
    ) -> None:
        self._stream = stream
        self._label = label
        self._interval = interval
        self._last = time.monotonic()  # quick reads print only their last line
        self._bar_wanted = stream.isatty() if bar is None else bar
        self._bar: Any = None

    def __call__(self, p: ReadProgress) -> None:
        if self._bar_wanted:
            self._draw(p)
            return
        now = time.monotonic()
        final = p.files_done == p.files_total
        if not final and now - self._last < self._interval:
            return
        self._last = now
        self._stream.write(self.line(p) + "\n")
        self._stream.flush()

    def line(self, p: ReadProgress) -> str:
        mb = f"{p.bytes_done / 1e6:.1f}/{p.bytes_total / 1e6:.1f} MB"
        return f"{self._label}: {p.files_done}/{p.files_total} files ({mb}), {p.rows:,} rows"

    def _draw(self, p: ReadProgress) -> None:
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(
                total=max(p.bytes_total, 1), desc=self._label, unit="B", unit_scale=True,
                file=self._stream, mininterval=0.1, leave=True, dynamic_ncols=True,
            )  # fmt: skip
        self._bar.n = min(p.bytes_done, self._bar.total)
        self._bar.set_postfix_str(f"{p.files_done}/{p.files_total} files, {p.rows:,} rows")
        if p.files_done == p.files_total:
            self._bar.close()
