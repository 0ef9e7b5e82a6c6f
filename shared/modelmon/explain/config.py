"""The ``explainer`` section of a model config: what to explain with, how often, at what cost."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Relative paths below the explainer's ``models_dir`` / ``data_dir`` (never absolute, no ``..``;
#: checked again with ``modelmon.names.contained`` when the file is opened).
RELATIVE_PATH = r"^[A-Za-z0-9_][A-Za-z0-9._/-]{0,511}$"


class ExplainerConfig(BaseModel):
    """How ``modelmon run explainer`` explains one model (``explainer:`` in model.yaml).

    Exactly one of ``model_path`` (a tree-ensemble artefact: TreeExplainer) and
    ``endpoint_url`` (the model's HTTP endpoint: Kernel SHAP with a background sample).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    features: list[str] = Field(
        min_length=1,
        description="the model's input features, in the order the model takes them",
    )
    model_path: str | None = Field(
        default=None,
        pattern=RELATIVE_PATH,
        description="artefact below the explainer's models_dir: a scikit-learn/XGBoost/LightGBM "
        "tree ensemble pickled with joblib or pickle (.joblib/.pkl), a LightGBM text model "
        "(.txt) or an XGBoost model (.json/.ubj). Pickles run code when loaded: trusted files only",
    )
    endpoint_url: str | None = Field(
        default=None,
        description="the model's HTTP endpoint (POST), for Kernel SHAP; http:// or https://",
    )
    content_type: Literal["text/csv", "application/json"] = Field(
        default="text/csv",
        description='request body: CSV rows (SageMaker\'s), or JSON {"instances": [[...], ...]}; '
        'the answer: one number per row (CSV lines, a JSON list or {"predictions": [...]})',
    )
    output_index: int = Field(
        default=0,
        ge=0,
        description="which output to explain when the model gives several per row (the class "
        "index for a classifier's per-class scores)",
    )
    background_path: str | None = Field(
        default=None,
        pattern=RELATIVE_PATH,
        description="baseline data below the explainer's data_dir (.csv with a header, "
        ".parquet or .jsonl) holding the features; needed for endpoint_url; with model_path "
        "it makes TreeExplainer interventional (else tree-path-dependent)",
    )
    background_size: int = Field(
        default=20, ge=1, le=1000, description="rows of the background sample"
    )
    background_method: Literal["kmeans", "sample"] = Field(
        default="kmeans",
        description="kmeans: weighted k-means centres (shap.kmeans, seeded); sample: a seeded "
        "random sample of rows",
    )
    seed: int = Field(default=0, ge=0, description="seeds the background sample and Kernel SHAP")
    nsamples: int | Literal["auto"] = Field(
        default="auto",
        description="Kernel SHAP coalitions per explanation (auto: 2*features+2048, or every "
        "coalition when there are fewer)",
    )
    sample_rate: float = Field(
        default=0.01, ge=0, le=1, description="fraction of captured events explained"
    )
    max_requests_per_second: float = Field(
        default=5.0,
        gt=0,
        description="requests to endpoint_url per second at most (token bucket); an event that "
        "would exceed it is not explained (counted), never queued",
    )
    max_batch_rows: int = Field(
        default=10_000, ge=1, description="rows per request to endpoint_url"
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)

    @model_validator(mode="after")
    def _one_source(self) -> ExplainerConfig:
        if (self.model_path is None) == (self.endpoint_url is None):
            raise ValueError("explainer: set exactly one of model_path and endpoint_url")
        if self.endpoint_url is not None:
            if self.endpoint_url[:7].lower() != "http://" and self.endpoint_url[:8].lower() != (
                "https://"
            ):
                raise ValueError(f"explainer.endpoint_url {self.endpoint_url!r}: http(s) only")
            if self.background_path is None:
                raise ValueError("explainer: endpoint_url needs background_path (Kernel SHAP)")
        if len(set(self.features)) != len(self.features):
            raise ValueError("explainer.features lists a feature twice")
        return self

    @field_validator("model_path", "background_path")
    @classmethod
    def _no_parent(cls, value: str | None) -> str | None:
        if value is not None and any(part in ("", ".", "..") for part in value.split("/")):
            raise ValueError(f"{value!r}: a relative path without '.', '..' or empty segments")
        return value

    @property
    def method(self) -> Literal["tree", "kernel"]:
        return "tree" if self.model_path is not None else "kernel"
