"""Bias metric datums go through CloudWatch's PutMetricData (the AWS emulator) and read back."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Callable
from typing import Any

from modelmon.alerting.cloudwatch import batches
from modelmon.bias.cloudwatch import INFINITY_VALUE, bias_metric_data
from modelmon.bias.config import BiasConfig
from modelmon.bias.report import facet_reports
from modelmon.bias.state import state_from_rows


def test_bias_datums_are_accepted_and_read_back(boto_client: Callable[[str], Any]) -> None:
    cw = boto_client("cloudwatch")
    run = uuid.uuid4().hex[:8]
    namespace = f"modelmon/test-bias-{run}"
    config = BiasConfig.model_validate(
        {
            "label": "y",
            "label_values_or_threshold": [1],
            "facet": [{"name_or_index": "sex", "value_or_threshold": ["f"]}],
        }
    )
    # sensitive f: FN 1, FP 0 -> TE = +inf; rest m: FN 0, FP 1
    rows = [
        {"sex": "f", "y": 1, "prediction": 0},
        {"sex": "f", "y": 1, "prediction": 1},
        {"sex": "m", "y": 0, "prediction": 1},
        {"sex": "m", "y": 1, "prediction": 1},
    ]
    reports = facet_reports(config, state_from_rows(config, rows), "post_training")
    te = reports[0].metric("TE")
    assert te is not None and te.value == math.inf
    when = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(minutes=2)
    data = bias_metric_data(
        {"post_training": reports},
        endpoint=f"ep-{run}",
        schedule="hourly",
        label="y",
        label_value="1",
        timestamp=when,
    )
    assert {d.name for d in data} >= {"bias_metric_TE", "bias_metric_DPPL"}
    for batch in batches(data):
        cw.put_metric_data(Namespace=namespace, MetricData=[d.to_aws() for d in batch])
    datum = next(d for d in data if d.name == "bias_metric_TE")
    resp = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "q",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": "bias_metric_TE",
                        "Dimensions": [{"Name": n, "Value": v} for n, v in datum.dimensions],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
            }
        ],
        StartTime=when - dt.timedelta(minutes=5),
        EndTime=when + dt.timedelta(minutes=5),
    )
    assert list(resp["MetricDataResults"][0]["Values"]) == [INFINITY_VALUE]
