"""Every Redis key modelmon uses, built in one place (see docs/streaming.md for the layout).

Keys start with the configured prefix (``RedisSettings.key_prefix``), so several deployments
or tests can share one Redis. Per-partition aggregator keys are written only by the consumer
that owns the partition (through the fenced flush script); the detector only reads them,
apart from shortening the TTL of partials it has evaluated. Alerting's keys are written only
by the alerting service (``modelmon.alerting.store``, in WATCH/MULTI transactions).
"""

from __future__ import annotations

from dataclasses import dataclass

from modelmon.windows import WINDOW_MEMBER_SEP, WindowRef

__all__ = ["WINDOW_MEMBER_SEP", "Keys", "WindowRef"]


@dataclass(frozen=True, slots=True)
class Keys:
    """Key builder for one prefix."""

    prefix: str = "modelmon"

    # -- registry -------------------------------------------------------------------------
    def models(self) -> str:
        """Set of registered model ids."""
        return f"{self.prefix}:models"

    def registry_version(self) -> str:
        """Counter bumped on every registry change; services poll it to reload configs."""
        return f"{self.prefix}:registry:version"

    def generation(self) -> str:
        """Random id written with the first model: its loss means Redis lost its state."""
        return f"{self.prefix}:generation"

    def registry_channel(self) -> str:
        """Pub/sub channel announcing registry changes (the version key is the source of truth)."""
        return f"{self.prefix}:registry:changed"

    def model_config(self, model_id: str) -> str:
        """Hash: ``config`` (ModelConfig JSON), ``version``, ``changed_at``."""
        return f"{self.prefix}:model:{model_id}:config"

    def baseline(self, model_id: str) -> str:
        """Hash: ``blob`` (baseline bytes), ``source``, ``version``, ``changed_at``."""
        return f"{self.prefix}:model:{model_id}:baseline"

    # -- aggregator state, one set per (topic, partition) -------------------------------------
    def partition_state(self, topic: str, partition: int) -> str:
        """Hash: ``offset`` (next offset), ``watermark`` (ms), ``updated`` (wall-clock ms)."""
        return f"{self.prefix}:agg:{topic}:{partition}:state"

    def partition_windows(self, topic: str, partition: int) -> str:
        """Sorted set of the partition's windows (``WindowRef.member``), score = close time ms."""
        return f"{self.prefix}:agg:{topic}:{partition}:windows"

    def partition_late(self, topic: str, partition: int) -> str:
        """Hash: window member -> events that arrived after the window closed on this partition."""
        return f"{self.prefix}:agg:{topic}:{partition}:late"

    def partial(self, topic: str, partition: int, window: WindowRef) -> str:
        """A partition's serialized partial profile of one window."""
        return (
            f"{self.prefix}:partial:{window.model_id}:{window.size_ms}:{window.start_ms}"
            f":{topic}:{partition}"
        )

    # -- detector --------------------------------------------------------------------------
    def claim(self, window: WindowRef) -> str:
        """SET NX with expiry: the detector evaluating the window (released on success)."""
        return f"{self.prefix}:claim:{window.model_id}:{window.size_ms}:{window.start_ms}"

    def done(self, window: WindowRef) -> str:
        """Marker: the window has been evaluated (value: the result's evaluated_at)."""
        return f"{self.prefix}:done:{window.model_id}:{window.size_ms}:{window.start_ms}"

    def failed(self, window: WindowRef) -> str:
        """JSON: the window's evaluation failed (reason, attempts, when to retry)."""
        return f"{self.prefix}:failed:{window.model_id}:{window.size_ms}:{window.start_ms}"

    def merged(self, window: WindowRef) -> str:
        """The window's merged profile, kept for the rolling view of the next windows."""
        return f"{self.prefix}:merged:{window.model_id}:{window.size_ms}:{window.start_ms}"

    def detector_cursors(self, topic: str) -> str:
        """Hash: model id -> close time (ms) up to which the detector handed out that model's
        windows (issue 23: the ready queue resumes from it after a restart)."""
        return f"{self.prefix}:detector:{topic}:cursors"

    def detector_retries(self, topic: str) -> str:
        """Sorted set of failed windows (``WindowRef.member``), score = when to retry (ms)."""
        return f"{self.prefix}:detector:{topic}:retries"

    def results(self, model_id: str) -> str:
        """Sorted set of WindowResult JSON by window start (ms): the model's time series."""
        return f"{self.prefix}:results:{model_id}"

    def rolling_results(self, model_id: str) -> str:
        """Sorted set of rolling-view WindowResult JSON by the last window's start (ms)."""
        return f"{self.prefix}:results:{model_id}:rolling"

    def feature_series(self, model_id: str, feature: str) -> str:
        """Sorted set of FeatureMetrics JSON (with window start) by window start (ms)."""
        return f"{self.prefix}:series:{model_id}:{feature}"

    # -- alerting --------------------------------------------------------------------------
    def alert_states(self, model_id: str) -> str:
        """Hash: alert key -> ``KeyState`` JSON, every alert key's state of one model."""
        return f"{self.prefix}:alerting:state:{model_id}"

    def alert_plan(self, event_id: str) -> str:
        """Hash: ``plan`` (``Plan`` JSON) and ``d:<delivery id>`` outcomes while the event is
        delivered, then only ``done`` (de-duplication marker); expires (``--dedup-hours``)."""
        return f"{self.prefix}:alerting:plan:{event_id}"

    # -- label join (modelmon run labeljoin), one set per partition of the join topic ------------
    def labeljoin_state(self, partition: int) -> str:
        """Hash: ``offset``, ``watermark``, ``updated`` and ``c:<counter>`` per join counter."""
        return f"{self.prefix}:lj:{partition}:state"

    def labeljoin_pending(self, partition: int) -> str:
        """Hash: inference id -> pending prediction or label (member + record, msgpack)."""
        return f"{self.prefix}:lj:{partition}:pending"

    def labeljoin_joined(self, partition: int) -> str:
        """Hash: inference id -> horizon end (ms) of a joined inference (duplicates detection)."""
        return f"{self.prefix}:lj:{partition}:joined"

    def labeljoin_deadlines(self, partition: int) -> str:
        """Sorted set: pending/joined member -> deadline (ms); swept past the watermark."""
        return f"{self.prefix}:lj:{partition}:deadlines"

    def labeljoin_window_prefix(self) -> str:
        """Prefix of the per-(model, window, partition) counters (built in the flush script)."""
        return f"{self.prefix}:lj:win:"

    def labeljoin_window(self, model_id: str, start_ms: int, partition: int) -> str:
        """Hash: ``predictions``, ``joined``, ``expired`` of one window on one partition."""
        return f"{self.labeljoin_window_prefix()}{model_id}:{start_ms}:{partition}"

    def quality_partial(self, model_id: str, start_ms: int, partition: int) -> str:
        """A partition's serialized quality state of one (model, window)."""
        return f"{self.prefix}:lj:q:{model_id}:{start_ms}:{partition}"

    def bias_partial(self, model_id: str, start_ms: int, partition: int) -> str:
        """A partition's serialized bias state (``BiasState``) of one (model, window)."""
        return f"{self.prefix}:lj:b:{model_id}:{start_ms}:{partition}"

    def bias_results(self, model_id: str) -> str:
        """Sorted set of bias evaluation JSON by window start (ms): the model's bias series."""
        return f"{self.prefix}:results:{model_id}:bias"

    def quality_results(self, model_id: str) -> str:
        """Sorted set of quality evaluation JSON by window start (ms): the model's series."""
        return f"{self.prefix}:results:{model_id}:quality"

    def quality_rolling_results(self, model_id: str) -> str:
        """Sorted set of rolling-view quality evaluation JSON by the view's end (ms)."""
        return f"{self.prefix}:results:{model_id}:quality:rolling"
