"""Progress of a long read, printed to a stream (stderr) at most once a second."""

from __future__ import annotations

import time
from typing import TextIO

from modelmon.readers import ReadProgress


class ProgressPrinter:
    """A ``progress`` callback for DataReader: one line per update on a terminal (redrawn),
    one line every ``interval`` seconds otherwise, and always the last one."""

    def __init__(self, stream: TextIO, label: str, interval: float = 1.0) -> None:
        self._stream = stream
        self._label = label
        self._interval = interval
        self._last = time.monotonic()  # quick reads print only their last line
        self._tty = stream.isatty()

    def __call__(self, p: ReadProgress) -> None:
        now = time.monotonic()
        final = p.files_done == p.files_total
        if not final and now - self._last < self._interval:
            return
        self._last = now
        mb = f"{p.bytes_done / 1e6:.1f}/{p.bytes_total / 1e6:.1f} MB"
        line = f"{self._label}: {p.files_done}/{p.files_total} files ({mb}), {p.rows:,} rows"
        if self._tty:
            self._stream.write("\r" + line + ("\n" if final else ""))
        else:
            self._stream.write(line + "\n")
        self._stream.flush()
