"""Contract test: each JSON Schema in schemas/, its pydantic model and its examples agree."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError

from modelmon.capture.sagemaker import from_sagemaker_record, to_sagemaker_record

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
REFERENCE = ROOT / "tests" / "fixtures" / "sagemaker_reference"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("schemas_generate", SCHEMAS / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()
STEMS = sorted(GEN.MODELS)


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _validator(stem: str) -> Draft202012Validator:
    schema = _load(SCHEMAS / f"{stem}.schema.json")
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _model(stem: str) -> type[BaseModel]:
    model: type[BaseModel] = GEN.MODELS[stem][0]
    return model


def _examples(stem: str, invalid: bool = False) -> list[Path]:
    folder = SCHEMAS / "examples" / stem / ("invalid" if invalid else "")
    return sorted(folder.glob("*.json"))


CASES = [(stem, p) for stem in STEMS for p in _examples(stem)]
INVALID = [(stem, p) for stem in STEMS for p in _examples(stem, invalid=True)]


@pytest.mark.parametrize("stem", STEMS)
def test_committed_schema_is_what_the_model_generates(stem: str) -> None:
    committed = (SCHEMAS / f"{stem}.schema.json").read_text(encoding="utf-8")
    assert committed == GEN.render(GEN.build(stem)), "run: .venv/bin/python schemas/generate.py"


@pytest.mark.parametrize("stem", STEMS)
def test_schema_declares_dialect_and_id_and_has_examples(stem: str) -> None:
    schema = _load(SCHEMAS / f"{stem}.schema.json")
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"urn:modelmon:schema:{stem}:v1"
    assert _examples(stem) and _examples(stem, invalid=True)


@pytest.mark.parametrize(("stem", "path"), CASES, ids=[f"{s}/{p.name}" for s, p in CASES])
def test_example_validates_and_round_trips(stem: str, path: Path) -> None:
    example = _load(path)
    validator = _validator(stem)
    assert list(validator.iter_errors(example)) == []
    model = _model(stem).model_validate(example)
    assert model.model_dump(mode="json", exclude_unset=True) == example
    dumped = model.model_dump(mode="json")
    assert list(validator.iter_errors(dumped)) == []
    assert _model(stem).model_validate_json(model.model_dump_json()) == model


@pytest.mark.parametrize(("stem", "path"), INVALID, ids=[f"{s}/{p.name}" for s, p in INVALID])
def test_invalid_example_is_rejected_by_schema_and_model(stem: str, path: Path) -> None:
    example = _load(path)
    assert list(_validator(stem).iter_errors(example)) != []
    with pytest.raises(ValidationError):
        _model(stem).model_validate(example)


def test_capture_schema_documents_the_sagemaker_mapping() -> None:
    description = _load(SCHEMAS / "capture-event.schema.json")["description"]
    for term in ("eventMetadata.eventId", "endpointInput", "_c0", "inferenceTime"):
        assert term in description


def test_sagemaker_example_maps_to_capture_example_and_back() -> None:
    record = _load(SCHEMAS / "examples/sagemaker-capture-record/churn-csv.json")
    expected = _load(SCHEMAS / "examples/capture-event/from-sagemaker-churn-csv.json")
    (event,) = from_sagemaker_record(record, model_id="DEMO-xgb-churn-pred")
    assert event.model_dump(mode="json", exclude_none=True) == expected
    assert to_sagemaker_record(event) == record
    reference = json.loads((REFERENCE / "churn_capture_sample.jsonl").read_text().splitlines()[0])
    assert record == reference
