"""modelmon.keys: the exact key strings (stored data depends on them never changing)."""

from __future__ import annotations

from modelmon.keys import Keys, WindowRef


def test_registry_and_detector_keys() -> None:
    keys, window = Keys("p"), WindowRef("m", 60_000, 120_000)
    assert keys.models() == "p:models"
    assert keys.model_config("m") == "p:model:m:config"
    assert keys.partition_state("t", 3) == "p:agg:t:3:state"
    assert keys.partial("t", 3, window) == "p:partial:m:60000:120000:t:3"
    assert keys.done(window) == "p:done:m:60000:120000"
    assert keys.results("m") == "p:results:m"


def test_alerting_keys_keep_the_names_alerting_has_always_used() -> None:
    keys = Keys("modelmon")
    assert keys.alert_states("credit-risk") == "modelmon:alerting:state:credit-risk"
    assert keys.alert_plan("credit-risk/w0") == "modelmon:alerting:plan:credit-risk/w0"
    assert Keys().alert_plan("e") == Keys("modelmon").alert_plan("e")
