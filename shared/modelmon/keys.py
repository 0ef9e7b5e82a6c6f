"""Every Redis key modelmon uses, built in one place (see docs/streaming.md for the layout).

Keys start with the configured prefix (``RedisSettings.key_prefix``), so several deployments
or tests can share one Redis. Each key carries a Redis Cluster hash tag (the part in ``{}``):
every key one fenced script or transaction touches hashes to one slot (docs/decisions/
0006-redis-cluster-keys.md) — the registry's keys share ``{registry}``, a partition's
aggregator state and its partials share ``{<topic>:<partition>}``, a label-join partition's
keys share ``{lj:<partition>}``, and the detector's and alerting's keys spread by model
(``{<model>}``). Per-partition aggregator keys are written only by the consumer
that owns the partition (through the fenced flush script); the detector only reads them,
apart from shortening the TTL of partials it has evaluated. Alerting's keys are written only
by the alerting service (``modelmon.alerting.store``, in WATCH/MULTI transactions).
"""

from __future__ import annotations

from dataclasses import dataclass

from modelmon.windows import WINDOW_MEMBER_SEP, WindowRef

__all__ = ["REGISTRY_TAG", "WINDOW_MEMBER_SEP", "Keys", "WindowRef", "hash_slot_tag"]

#: The registry's keys (models, versions, configs, baselines, generation) share one slot: a
#: registration writes the config, the model set, the version and the generation atomically.
REGISTRY_TAG = "{registry}"


def _tag(name: str) -> str:
    """``{name}``: Redis Cluster hashes only the part in braces (one slot per name)."""
    return "{" + name + "}"


def _window(window: WindowRef) -> str:
    return f"{_tag(window.model_id)}:{window.size_ms}:{window.start_ms}"


def hash_slot_tag(key: str) -> str:
    """The part of ``key`` Redis Cluster hashes (its first non-empty ``{...}``, else all)."""
    start = key.find("{")
    end = key.find("}", start + 1) if start >= 0 else -1
    return key[start + 1 : end] if start >= 0 and end > start + 1 else key


@dataclass(frozen=True, slots=True)
class Keys:
    """Key builder for one prefix."""

    prefix: str = "modelmon"

    def __post_init__(self) -> None:
        if "{" in self.prefix or "}" in self.prefix:
            raise ValueError(f"key prefix {self.prefix!r} may not contain '{{' or '}}'")

    def _agg(self, topic: str, partition: int) -> str:
        """A partition's aggregator keys: state, index, late counts and partials, one slot."""
        return f"{self.prefix}:agg:{_tag(f'{topic}:{partition}')}"

    def _lj(self, partition: int) -> str:
        """A label-join partition's keys (state, pending, joined, deadlines, partials), one slot."""
        return f"{self.prefix}:lj:{_tag(f'lj:{partition}')}"

    # -- registry -------------------------------------------------------------------------
    def models(self) -> str:
        """Set of registered model ids."""
        return f"{self.prefix}:{REGISTRY_TAG}:models"

    def registry_version(self) -> str:
        """Counter bumped on every registry change; services poll it to reload configs."""
        return f"{self.prefix}:{REGISTRY_TAG}:version"

    def generation(self) -> str:
        """Random id written with the first model: its loss means Redis lost its state."""
        return f"{self.prefix}:{REGISTRY_TAG}:generation"

    def registry_channel(self) -> str:
        """Pub/sub channel announcing registry changes (the version key is the source of truth)."""
        return f"{self.prefix}:registry:changed"

    def model_config(self, model_id: str) -> str:
        """Hash: ``config`` (ModelConfig JSON), ``version``, ``changed_at``."""
        return f"{self.prefix}:{REGISTRY_TAG}:model:{model_id}:config"

    def baseline(self, model_id: str) -> str:
        """Hash: ``blob`` (baseline bytes), ``source``, ``version``, ``changed_at``."""
        return f"{self.prefix}:{REGISTRY_TAG}:model:{model_id}:baseline"

    # -- aggregator state, one set per (topic, partition) -------------------------------------
    def partition_state(self, topic: str, partition: int) -> str:
        """Hash: ``offset`` (next offset), ``watermark`` (ms), ``updated`` (wall-clock ms)."""
        return f"{self._agg(topic, partition)}:state"

    def partition_windows(self, topic: str, partition: int) -> str:
        """Sorted set of the partition's windows (``WindowRef.member``), score = close time ms."""
        return f"{self._agg(topic, partition)}:windows"

    def partition_late(self, topic: str, partition: int) -> str:
        """Hash: window member -> events that arrived after the window closed on this partition."""
        return f"{self._agg(topic, partition)}:late"

    def partial(self, topic: str, partition: int, window: WindowRef) -> str:
        """A partition's serialized partial profile of one window."""
        return (
            f"{self._agg(topic, partition)}:partial:{window.model_id}:{window.size_ms}"
            f":{window.start_ms}"
        )

    # -- attributions (modelmon.attribution), per partition of a consumed topic ------------
    def _attr(self, topic: str, partition: int) -> str:
        """A partition's attribution keys (state, index, partials): one slot, that of the
        partition's profile keys (``_agg``), for the fenced ``ATTRIBUTION_FLUSH`` script."""
        return f"{self.prefix}:attr:{_tag(f'{topic}:{partition}')}"

    def attribution_state(self, topic: str, partition: int) -> str:
        """Hash: ``offset``, the next offset the partition's attribution partials cover."""
        return f"{self._attr(topic, partition)}:state"

    def attribution_windows(self, topic: str, partition: int) -> str:
        """Sorted set of the partition's attribution windows (member), score = close time ms."""
        return f"{self._attr(topic, partition)}:windows"

    def attribution_partial(self, topic: str, partition: int, window: WindowRef) -> str:
        """A partition's serialized ``AttributionState`` of one window."""
        return (
            f"{self._attr(topic, partition)}:partial:{window.model_id}:{window.size_ms}"
            f":{window.start_ms}"
        )

    def attribution_parts(self, topic: str, window: WindowRef) -> str:
        """Set of the partitions of ``topic`` holding an attribution partial of the window
        (the detector's key: spread by model; written before the partial, outside its script)."""
        return f"{self.prefix}:attrparts:{_window(window)}:{topic}"

    # -- detector --------------------------------------------------------------------------
    def claim(self, window: WindowRef) -> str:
        """SET NX with expiry: the detector evaluating the window (released on success)."""
        return f"{self.prefix}:claim:{_window(window)}"

    def done(self, window: WindowRef) -> str:
        """Marker: the window has been evaluated (value: the result's evaluated_at)."""
        return f"{self.prefix}:done:{_window(window)}"

    def failed(self, window: WindowRef) -> str:
        """JSON: the window's evaluation failed (reason, attempts, when to retry)."""
        return f"{self.prefix}:failed:{_window(window)}"

    def merged(self, window: WindowRef) -> str:
        """The window's merged profile, kept for the rolling view of the next windows."""
        return f"{self.prefix}:merged:{_window(window)}"

    def detector_cursors(self, topic: str) -> str:
        """Hash: model id -> close time (ms) up to which the detector handed out that model's
        windows (issue 23: the ready queue resumes from it after a restart)."""
        return f"{self.prefix}:detector:{topic}:cursors"

    def detector_retries(self, topic: str) -> str:
        """Sorted set of failed windows (``WindowRef.member``), score = when to retry (ms)."""
        return f"{self.prefix}:detector:{topic}:retries"

    def results(self, model_id: str) -> str:
        """Sorted set of WindowResult JSON by window start (ms): the model's time series."""
        return f"{self.prefix}:results:{_tag(model_id)}"

    def rolling_results(self, model_id: str) -> str:
        """Sorted set of rolling-view WindowResult JSON by the last window's start (ms)."""
        return f"{self.prefix}:results:{_tag(model_id)}:rolling"

    def feature_series(self, model_id: str, feature: str) -> str:
        """Sorted set of FeatureMetrics JSON (with window start) by window start (ms)."""
        return f"{self.prefix}:series:{_tag(model_id)}:{feature}"

    # -- alerting --------------------------------------------------------------------------
    def alert_states(self, model_id: str) -> str:
        """Hash: alert key -> ``KeyState`` JSON, every alert key's state of one model."""
        return f"{self.prefix}:alerting:state:{_tag(model_id)}"

    def alert_plan(self, model_id: str, event_id: str) -> str:
        """Hash: ``plan`` (``Plan`` JSON) and ``d:<delivery id>`` outcomes while the event is
        delivered, then only ``done`` (de-duplication marker); expires (``--dedup-hours``).
        In the model's slot: it is written in one transaction with ``alert_states``."""
        return f"{self.prefix}:alerting:plan:{_tag(model_id)}:{event_id}"

    # -- label join (modelmon run labeljoin), one set per partition of the join topic ------------
    def labeljoin_state(self, partition: int) -> str:
        """Hash: ``offset``, ``watermark``, ``updated`` and ``c:<counter>`` per join counter."""
        return f"{self._lj(partition)}:state"

    def labeljoin_pending(self, partition: int) -> str:
        """Hash: inference id -> pending prediction or label (member + record, msgpack)."""
        return f"{self._lj(partition)}:pending"

    def labeljoin_joined(self, partition: int) -> str:
        """Hash: inference id -> horizon end (ms) of a joined inference (duplicates detection)."""
        return f"{self._lj(partition)}:joined"

    def labeljoin_deadlines(self, partition: int) -> str:
        """Sorted set: pending/joined member -> deadline (ms); swept past the watermark."""
        return f"{self._lj(partition)}:deadlines"

    def labeljoin_unevaluated(self, partition: int) -> str:
        """Set of ``<model>|<window start>`` the partition's flushes changed and the joiner has
        not yet evaluated and published (cleared after; re-driven after a restart)."""
        return f"{self._lj(partition)}:unevaluated"

    def labeljoin_window_prefix(self, partition: int) -> str:
        """Prefix of the partition's per-(model, window) counters: the flush script builds
        ``<prefix><model>:<start>:<partition>`` (``labeljoin_window``)."""
        return f"{self._lj(partition)}:win:"

    def labeljoin_window(self, model_id: str, start_ms: int, partition: int) -> str:
        """Hash: ``predictions``, ``joined``, ``expired`` of one window on one partition."""
        return f"{self.labeljoin_window_prefix(partition)}{model_id}:{start_ms}:{partition}"

    def quality_partial(self, model_id: str, start_ms: int, partition: int) -> str:
        """A partition's serialized quality state of one (model, window)."""
        return f"{self._lj(partition)}:q:{model_id}:{start_ms}"

    def bias_partial(self, model_id: str, start_ms: int, partition: int) -> str:
        """A partition's serialized bias state (``BiasState``) of one (model, window)."""
        return f"{self._lj(partition)}:b:{model_id}:{start_ms}"

    def attribution_results(self, model_id: str) -> str:
        """Sorted set of attribution evaluation JSON by window start (ms): the NDCG series."""
        return f"{self.prefix}:results:{_tag(model_id)}:attribution"

    def bias_results(self, model_id: str) -> str:
        """Sorted set of bias evaluation JSON by window start (ms): the model's bias series."""
        return f"{self.prefix}:results:{_tag(model_id)}:bias"

    def quality_results(self, model_id: str) -> str:
        """Sorted set of quality evaluation JSON by window start (ms): the model's series."""
        return f"{self.prefix}:results:{_tag(model_id)}:quality"

    def quality_rolling_results(self, model_id: str) -> str:
        """Sorted set of rolling-view quality evaluation JSON by the view's end (ms)."""
        return f"{self.prefix}:results:{_tag(model_id)}:quality:rolling"

    # -- migration from the untagged names (before issue 16) -------------------------------
    def from_legacy(self, key: str) -> str | None:
        """The tagged name of a key stored under its name before hash tags, or None when
        ``key`` is not such a key (already tagged, or not modelmon's). Alert plans are not
        mapped here: their model is inside the value (``modelmon migrate-keys`` reads it)."""
        head = f"{self.prefix}:"
        if not key.startswith(head) or "{" in key:
            return None
        try:
            return _legacy(self, key[len(head) :].split(":"))
        except ValueError:  # a number that is not one: not a key modelmon wrote
            return None

    def legacy_alert_plan_id(self, key: str) -> str | None:
        """The event id of an untagged alert plan key (``<prefix>:alerting:plan:<event id>``)."""
        head = f"{self.prefix}:alerting:plan:"
        return key[len(head) :] if key.startswith(head) and "{" not in key else None


def _legacy(k: Keys, parts: list[str]) -> str | None:
    match parts:
        case ["models"]:
            return k.models()
        case ["registry", "version"]:
            return k.registry_version()
        case ["generation"]:
            return k.generation()
        case ["model", model, "config"]:
            return k.model_config(model)
        case ["model", model, "baseline"]:
            return k.baseline(model)
        case ["agg", topic, part, "state" | "windows" | "late" as kind] if part.isdigit():
            return f"{k._agg(topic, int(part))}:{kind}"
        case ["partial", model, size, start, topic, part] if part.isdigit():
            return k.partial(topic, int(part), WindowRef(model, int(size), int(start)))
        case ["claim" | "done" | "failed" | "merged" as kind, model, size, start]:
            return f"{k.prefix}:{kind}:{_window(WindowRef(model, int(size), int(start)))}"
        case ["results", model, *rest]:
            return ":".join([k.results(model), *rest])
        case ["series", model, *feature] if feature:
            return k.feature_series(model, ":".join(feature))
        case ["alerting", "state", model]:
            return k.alert_states(model)
        case ["lj", part, "state" | "pending" | "joined" | "deadlines" as kind] if part.isdigit():
            return f"{k._lj(int(part))}:{kind}"
        case ["lj", "win", model, start, part] if part.isdigit():
            return k.labeljoin_window(model, int(start), int(part))
        case ["lj", "q", model, start, part] if part.isdigit():
            return k.quality_partial(model, int(start), int(part))
        case ["lj", "b", model, start, part] if part.isdigit():
            return k.bias_partial(model, int(start), int(part))
    return None
