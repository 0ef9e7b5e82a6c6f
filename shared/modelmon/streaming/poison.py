"""Every way decoding a message can fail, as one tuple and a closed set of reason codes (pure).

A consumer that decodes bytes from a topic must never let a decode-time exception escape:
invalid UTF-8 inside a string raises ``UnicodeDecodeError`` (a ``ValueError``), nesting past
the decoder's depth raises ``RecursionError``, a number too large for its type raises a
``DecodeError`` or ``OverflowError``. ``DECODE_ERRORS`` catches all of them, and
``reason_code`` names the class of input for the dead letter's reason (``code: detail``), so
an operator can count and filter dead letters by what was wrong.
"""

from __future__ import annotations

from typing import Final

import msgspec

#: Exceptions a decoder may raise on bad bytes (never on a bug in our code: those are not here).
DECODE_ERRORS: Final = (
    msgspec.DecodeError,
    ValueError,  # includes UnicodeDecodeError
    TypeError,
    OverflowError,
    RecursionError,
)

#: The reason codes of decode-time rejections (the prefix of a dead letter's reason).
REASON_CODES: Final = frozenset(
    {
        "no_value",
        "oversize",
        "invalid_utf8",
        "too_deep",
        "number_out_of_range",
        "invalid_json",
        "schema_violation",
        "event_time_out_of_bounds",
    }
)


def reason_code(exc: BaseException) -> str:
    """The class of input that made a decoder raise ``exc``."""
    if isinstance(exc, UnicodeError):
        return "invalid_utf8"
    if isinstance(exc, RecursionError):
        return "too_deep"
    if isinstance(exc, OverflowError):
        return "number_out_of_range"
    text = str(exc).lower()
    if "out of range" in text or "`int` <=" in text or "`int` >=" in text:
        return "number_out_of_range"
    if "recursion" in text or "depth" in text:
        return "too_deep"
    if "unicode" in text or "utf-8" in text:
        return "invalid_utf8"
    if isinstance(exc, msgspec.ValidationError):
        return "schema_violation"
    if isinstance(exc, msgspec.DecodeError):
        return "invalid_json"
    return "schema_violation"


def reason(code: str, detail: object) -> str:
    """A dead letter's reason: its code, then the detail for a human."""
    assert code in REASON_CODES, code
    return f"{code}: {detail}"
