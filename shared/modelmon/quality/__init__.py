"""Model quality: ground-truth labels, their join to predictions, and SageMaker's quality metrics.

- ``labels``: the label event (topic ``modelmon.labels.v1``) and SageMaker ground-truth records.
- ``replicates``: the deterministic 80%-subsample replicates behind every ``standard_deviation``.
- ``state``: mergeable per-window quality state (binary, multiclass, regression).
- ``metrics``: SageMaker's metric set computed from a state.
- ``files``: SageMaker's model-quality statistics / constraints / violations files.
"""
