"""A baseline: SageMaker's statistics.json + constraints.json, plus modelmon's profile blob.

Made by ``modelmon baseline create`` (all three files) or by SageMaker (the two JSON files:
distributions are then rebuilt from the KLL sketches and categorical buckets in
statistics.json). ``to_bytes``/``from_bytes`` give one self-describing value to store in Redis.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson

from modelmon.errors import BaselineError, CorruptBlobError
from modelmon.profile import (
    CategoricalCounts,
    CategoricalProfile,
    DatasetProfile,
    FeatureKind,
    NumericProfile,
    WeightedSample,
)
from modelmon.sagemaker import files
from modelmon.sagemaker.constraints import Constraints
from modelmon.sagemaker.statistics import Statistics

PROFILE_FILE = "profile.bin"
#: modelmon's own notes on a baseline: columns that are not features (label, ids...).
SETTINGS_FILE = "modelmon.json"
#: Every file a baseline directory may hold (the first two are required).
BASELINE_FILES = (files.STATISTICS_FILE, files.CONSTRAINTS_FILE, PROFILE_FILE, SETTINGS_FILE)
_MAGIC = b"MMBASELINE\x00"
_VERSION = 1

#: What drift compares against: a modelmon profile or one rebuilt from statistics.json.
BaselineDistribution = NumericProfile | CategoricalProfile | WeightedSample | CategoricalCounts


@dataclass(frozen=True, eq=False)
class Baseline:
    """What a window is checked against. Feature order is statistics.json's."""

    statistics: Statistics
    constraints: Constraints
    profile: DatasetProfile | None = None
    excluded: tuple[str, ...] = ()  # columns of the data that are not features (the label...)
    _cache: dict[str, BaselineDistribution | None] = field(default_factory=dict, repr=False)

    # ----- loading and storing -------------------------------------------------------------
    @staticmethod
    def load(path: Path | str) -> Baseline:
        """Read a baseline directory; BaselineError says which file is missing or bad."""
        directory = Path(path)
        if not directory.is_dir():
            raise BaselineError(
                f"baseline directory {directory} does not exist (make one with "
                "`modelmon baseline create --data FILE --out DIR`)"
            )
        found = {
            name: (directory / name).read_bytes()
            for name in BASELINE_FILES
            if (directory / name).is_file()
        }
        return Baseline.from_files(found, str(directory))

    @staticmethod
    def from_files(found: Mapping[str, bytes], where: str) -> Baseline:
        """A baseline from its files' contents (by file name), e.g. fetched from S3."""
        for name in (files.STATISTICS_FILE, files.CONSTRAINTS_FILE):
            if name not in found:
                raise BaselineError(
                    f"{where} has no {name}: a baseline needs statistics.json and "
                    "constraints.json (SageMaker's or from `modelmon baseline create`)"
                )
        statistics = files.parse(
            Statistics, found[files.STATISTICS_FILE], f"{where}/{files.STATISTICS_FILE}"
        )
        constraints = files.parse(
            Constraints, found[files.CONSTRAINTS_FILE], f"{where}/{files.CONSTRAINTS_FILE}"
        )
        profile = None
        if PROFILE_FILE in found:
            profile = _profile_from(found[PROFILE_FILE], f"{where}/{PROFILE_FILE}")
        excluded: tuple[str, ...] = ()
        if SETTINGS_FILE in found:
            excluded = _parse_excluded(found[SETTINGS_FILE], f"{where}/{SETTINGS_FILE}")
        return Baseline(statistics, constraints, profile, excluded)

    def save(self, path: Path | str) -> None:
        directory = Path(path)
        files.write(self.statistics, directory / files.STATISTICS_FILE)
        files.write(self.constraints, directory / files.CONSTRAINTS_FILE)
        if self.profile is not None:
            (directory / PROFILE_FILE).write_bytes(self.profile.serialize())
        if self.excluded:
            doc = {"version": 1, "excluded_columns": list(self.excluded)}
            (directory / SETTINGS_FILE).write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))

    def to_bytes(self) -> bytes:
        body: dict[str, Any] = {
            "statistics": self.statistics.to_dict(),
            "constraints": self.constraints.to_dict(),
            "profile": base64.b64encode(self.profile.serialize()).decode()
            if self.profile is not None
            else None,
            "excluded_columns": list(self.excluded),
        }
        return _MAGIC + bytes([_VERSION]) + orjson.dumps(body)

    @staticmethod
    def from_bytes(blob: bytes) -> Baseline:
        """Inverse of ``to_bytes``; a blob that is not one is a BaselineError."""
        if not blob.startswith(_MAGIC) or len(blob) <= len(_MAGIC):
            raise BaselineError("stored baseline is corrupt: bad header")
        version = blob[len(_MAGIC)]
        if version != _VERSION:
            raise BaselineError(f"stored baseline has version {version}; this modelmon reads 1")
        try:
            body = orjson.loads(blob[len(_MAGIC) + 1 :])
            stats_json = orjson.dumps(body["statistics"])
            cons_json = orjson.dumps(body["constraints"])
            profile_b64 = body["profile"]
            excluded = tuple(str(c) for c in body.get("excluded_columns", []))
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise BaselineError("stored baseline is corrupt: bad body") from exc
        statistics = files.parse(Statistics, stats_json, "stored baseline statistics")
        constraints = files.parse(Constraints, cons_json, "stored baseline constraints")
        profile = None
        if profile_b64 is not None:
            profile = _profile_from(base64.b64decode(profile_b64), "stored baseline profile")
        return Baseline(statistics, constraints, profile, excluded)

    # ----- what checks need ------------------------------------------------------------------
    @cached_property
    def feature_names(self) -> list[str]:
        """Features in statistics.json order (then constraints-only ones)."""
        names = [f.name for f in self.statistics.features]
        return names + [f.name for f in self.constraints.features if f.name not in names]

    def kinds(self) -> dict[str, FeatureKind]:
        """Feature kinds for a ProfileTracker, so current data is profiled like the baseline."""
        out: dict[str, FeatureKind] = {}
        for name in self.feature_names:
            out[name] = self.kind(name)
        return out

    def kind(self, name: str) -> FeatureKind:
        if self.profile is not None and name in self.profile.features:
            return self.profile.features[name].kind
        stats = self.statistics.feature(name)
        if stats is not None:
            return "numeric" if stats.numerical_statistics is not None else "categorical"
        cons = self.constraints.feature(name)
        return "categorical" if cons is not None and cons.inferred_type == "String" else "numeric"

    def inferred_type(self, name: str) -> str:
        cons = self.constraints.feature(name)
        if cons is not None:
            return cons.inferred_type
        stats = self.statistics.feature(name)
        return stats.inferred_type if stats is not None else "Unknown"

    def numbers_are_text(self, name: str) -> bool:
        """Whether the baseline's String feature itself held numeric text (e.g. codes "007"):
        then numbers in current data are of the expected type too."""
        if self.profile is not None and name in self.profile.features:
            feature = self.profile.features[name]
            return (
                isinstance(feature, CategoricalProfile)
                and (feature.integral + feature.fractional) > 0
            )
        stats = self.statistics.feature(name)
        if stats is None or stats.string_statistics is None:
            return False
        return any(_is_number(b.value) for b in stats.string_statistics.buckets())

    def distribution(self, name: str) -> BaselineDistribution | None:
        """The baseline distribution of a feature for drift (None: nothing to compare with)."""
        if name not in self._cache:
            self._cache[name] = self._distribution(name)
        return self._cache[name]

    def _distribution(self, name: str) -> BaselineDistribution | None:
        if self.profile is not None and name in self.profile.features:
            return self.profile.features[name]
        stats = self.statistics.feature(name)
        if stats is None:
            return None
        if stats.numerical_statistics is not None:
            num = stats.numerical_statistics
            if not num.buckets() and not (num.distribution and num.distribution.kll):
                return None
            return WeightedSample.from_sagemaker(num.model_dump(), _numeric(stats.inferred_type))
        if stats.string_statistics is not None and stats.string_statistics.buckets():
            return CategoricalCounts.from_sagemaker(stats.string_statistics.model_dump())
        return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _numeric(inferred: str) -> Any:
    return inferred if inferred in ("Integral", "Fractional") else "Fractional"


def _parse_excluded(blob: bytes, where: str) -> tuple[str, ...]:
    try:
        doc = orjson.loads(blob)
        return tuple(str(c) for c in doc.get("excluded_columns", []))
    except (orjson.JSONDecodeError, AttributeError, TypeError) as exc:
        raise BaselineError(
            f'{where} is not valid: expected {{"excluded_columns": [...]}}'
        ) from exc


def _profile_from(blob: bytes, source: str) -> DatasetProfile:
    try:
        return DatasetProfile.deserialize(blob)
    except CorruptBlobError as exc:
        raise BaselineError(f"{source} is corrupt: {exc}") from exc
