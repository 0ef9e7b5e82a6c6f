"""modelmon: streaming, exactly-once ML model monitoring on Kafka and Redis.

The library holds everything that is not a run loop: event models, profiles and sketches,
drift distances, constraint checks, SageMaker formats, the capture SDK and thin adapters.
"""

__version__ = "0.1.0"
