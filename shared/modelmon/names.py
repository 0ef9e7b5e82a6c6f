"""Names that become Kafka keys, Redis key parts and path segments: one pattern, one check.

Model ids, variants, schedule names and endpoint names all match ``NAME_PATTERN``: 1-128
characters, ASCII letters, digits, ``.``, ``_`` and ``-``, starting with a letter or digit.
So no name is ``..``, holds a ``/``, a ``\\``, a NUL or a newline, or starts with a dot.
Schemas and models enforce the pattern; readers and writers check it again (``check_name``)
and writers also check that the resolved path stays under its root (``contained``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import Field

from modelmon.errors import PermanentError

#: For JSON Schema and pydantic, where ``$`` is the end of the text.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
#: For Python's ``re`` (and msgspec, which uses it): ``$`` there also matches before a "\n".
NAME_PATTERN_PY = NAME_PATTERN[:-1] + r"\Z"
_NAME = re.compile(NAME_PATTERN_PY)

Name = Annotated[str, Field(pattern=NAME_PATTERN)]


class UnsafeNameError(PermanentError, ValueError):
    """A name that would escape its place as a path segment or key part."""


def is_name(value: object) -> bool:
    return isinstance(value, str) and _NAME.match(value) is not None


def check_name(value: str, what: str = "name") -> str:
    """``value`` if it matches ``NAME_PATTERN``, else ``UnsafeNameError`` naming ``what``."""
    if not is_name(value):
        raise UnsafeNameError(f"{what} {value!r} must match {NAME_PATTERN}")
    return value


def contained(root: str | Path, relative: str) -> Path:
    """``root / relative`` resolved, refused unless it stays under ``root`` (no escape)."""
    if "\x00" in relative:
        raise UnsafeNameError(f"path {relative!r} holds a NUL byte")
    base = Path(root).resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(base):
        raise UnsafeNameError(f"path {relative!r} escapes {base}")
    return path
