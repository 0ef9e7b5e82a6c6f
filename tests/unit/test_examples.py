"""examples/model.yaml (README's first ten minutes, step 4) is a valid model config."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from modelmon.registry import parse_config

ROOT = Path(__file__).parents[2]


def test_the_example_model_config_registers() -> None:
    text = (ROOT / "examples" / "model.yaml").read_bytes()
    config = parse_config(text)
    assert config.model_id == "churn-v3" and config.label == "churned"
    schema = json.loads((ROOT / "schemas" / "model-config.schema.json").read_text())
    jsonschema.validate(yaml.safe_load(text), schema)
