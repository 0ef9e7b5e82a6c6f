"""Feature-attribution drift (SageMaker Clarify's explainability monitor), pure logic.

``state``: the mergeable per-window attribution state (mean |SHAP| per feature as sum and
count, signed mean, a KLL sketch per feature); ``ndcg``: Clarify's NDCG of the live ranking
against the baseline ranking; ``analysis``: Clarify's explainability ``analysis.json``;
``checks``: ``feature_attribution_drift_check`` violations; ``cloudwatch``/``alarms``: the
explainability metrics as SageMaker publishes them; ``evaluate``: one window's evaluation,
shared by the streaming detector and the batch CLI. See docs/attribution.md.
"""
