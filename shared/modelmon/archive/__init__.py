"""The capture archive: SageMaker's layout and record format on S3 or a local directory.

``layout`` names objects, ``codec`` turns events into file bodies (JSON Lines, optional gzip
and AES-GCM), ``store`` writes and lists them (S3 or local), ``reader`` reads them back.
"""
