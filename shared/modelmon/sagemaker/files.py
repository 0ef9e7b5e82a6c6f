"""Reading and writing SageMaker's JSON files, with errors that say which file and what failed.

Files are written the way SageMaker's container writes them (Jackson's pretty printer:
two-space indent, ``" : "`` separators), so a diff against a SageMaker file is readable.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from modelmon.errors import BaselineError
from modelmon.sagemaker.constraints import Constraints
from modelmon.sagemaker.statistics import Statistics
from modelmon.sagemaker.violations import ConstraintViolations

STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"
VIOLATIONS_FILE = "constraint_violations.json"

M = TypeVar("M", bound=BaseModel)


def dumps(doc: Any) -> str:
    """SageMaker-style pretty JSON. Non-finite floats become null (JSON has no NaN)."""
    return json.dumps(_finite(doc), indent=2, separators=(",", " : "), ensure_ascii=False) + "\n"


def _finite(doc: Any) -> Any:
    if isinstance(doc, float) and not math.isfinite(doc):
        return None
    if isinstance(doc, dict):
        return {k: _finite(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_finite(v) for v in doc]
    return doc


def parse(model: type[M], text: str | bytes, source: str) -> M:
    """Validate one SageMaker JSON document; a bad one is a BaselineError naming ``source``."""
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise BaselineError(
            f"{source} is not a valid SageMaker {model.__name__} file: "
            f"{where}: {first['msg']} ({exc.error_count()} problem(s) in all)"
        ) from exc


def read(model: type[M], path: Path) -> M:
    try:
        text = path.read_bytes()
    except FileNotFoundError as exc:
        raise BaselineError(f"{path} does not exist") from exc
    except OSError as exc:
        raise BaselineError(f"cannot read {path}: {exc.strerror}") from exc
    return parse(model, text, str(path))


def read_statistics(path: Path) -> Statistics:
    return read(Statistics, path)


def read_constraints(path: Path) -> Constraints:
    return read(Constraints, path)


def read_violations(path: Path) -> ConstraintViolations:
    return read(ConstraintViolations, path)


def write(doc: Statistics | Constraints | ConstraintViolations, path: Path) -> Path:
    """Write atomically (temp file + rename), so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dumps(doc.to_dict()), encoding="utf-8")
    tmp.replace(path)
    return path
