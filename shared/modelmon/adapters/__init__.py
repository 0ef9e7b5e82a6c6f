"""Thin adapters over Kafka, Redis, S3/CloudWatch/SNS and local files.

Only adapters and services import confluent_kafka, redis or boto3; pure logic never does.
"""
