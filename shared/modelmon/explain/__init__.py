"""Attributions for models that do not produce them: sampling, a request budget and SHAP.

``modelmon run explainer`` (services/explainer) wires these pieces: ``config`` (the model
config's ``explainer`` section), ``sampling`` (which events, deterministically by event id, and
the token bucket that bounds requests to a model endpoint), ``shapley`` (shap's TreeExplainer
for a tree-ensemble artefact, KernelExplainer against a prediction function otherwise),
``background`` (the baseline sample Kernel SHAP integrates over) and ``attribution`` (the
capture-schema attribution event). See docs/explainer.md.
"""
