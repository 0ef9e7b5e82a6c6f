"""What one ingest request may cost (issue 19): large bodies are parsed off the event loop,
dead letters per request are capped (the rest summarised in one dead letter with counts), and
out-of-bounds event times are refused at the edge."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from typing import Any

from modelmon.errors import InvalidEventError, UnknownModelError
from modelmon.service import DeadLetters

from .parse import LineError, Parsed, parse_body

#: Bodies larger than this are parsed in a worker thread, so /healthz and other requests keep
#: being answered while a 10 MB body is parsed (smaller ones are cheaper to parse in place).
OFF_LOOP_BYTES = 64 * 1024
#: Dead letters (and their log lines) per request; the rest become one summary dead letter.
MAX_DEAD_LETTERS_PER_REQUEST = 20


async def parse_off_loop(body: bytes, content_type: str, **options: Any) -> Parsed:
    """``parse_body``, in a worker thread when the body is large."""
    if len(body) <= OFF_LOOP_BYTES:
        return parse_body(body, content_type, **options)
    call = functools.partial(parse_body, body, content_type, **options)
    return await asyncio.get_running_loop().run_in_executor(None, call)


def dead_letter_capped(
    dead_letters: DeadLetters, errors: Sequence[LineError], cap: int = MAX_DEAD_LETTERS_PER_REQUEST
) -> int:
    """Dead-letter the first ``cap`` bad documents one by one and the rest as one summary
    (their count, line range and reasons by code); returns the dead letters sent."""
    for err in errors[:cap]:
        kind = UnknownModelError if "is not registered" in err.error else InvalidEventError
        dead_letters.send(err.raw, kind(f"line {err.line}: {err.error}"))
    rest = errors[cap:]
    if not rest:
        return len(errors)
    codes: dict[str, int] = {}
    for err in rest:
        code = err.error.split(":", 1)[0] if ": " in err.error else "invalid"
        codes[code] = codes.get(code, 0) + 1
    summary = ", ".join(f"{code}: {n}" for code, n in sorted(codes.items()))
    reason = (
        f"{len(rest)} more invalid documents in this request (lines {rest[0].line}-"
        f"{rest[-1].line}; by reason: {summary}); the request was refused whole, nothing accepted"
    )
    dead_letters.send(rest[0].raw[:4096], InvalidEventError(reason))
    return cap + 1
