"""The aggregator's building blocks: columnar decode, per-partition state, the fenced Redis flush.

``decode`` and ``partition`` are pure; ``store`` talks to Redis.
"""
