"""How a notification reads: one line, an SNS subject and attributes, JSON and Slack bodies.

A notification is an ``AlertEvent`` whose ``state`` says ALARM (went into violation) or OK
(resolved); its ``event_id`` is the notification's id, stable across retries and restarts.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from modelmon.events import AlertEvent, WindowEvaluated

#: SNS rejects subjects over 100 characters, with line breaks, or with non-ASCII characters.
SNS_SUBJECT_MAX = 100
#: Slack's limits: header text 150 characters, a section field 2000, a section text 3000.
SLACK_HEADER_MAX = 150
SLACK_FIELD_MAX = 2000
SLACK_TEXT_MAX = 3000

#: Checks whose value is a fraction that must stay *at or above* the threshold.
_LOWER_IS_WORSE = {"completeness_check", "data_type_check", "categorical_values_check"}


def fmt_number(value: float | None) -> str:
    """Short, exact-enough rendering of a metric value (4 significant digits)."""
    if value is None:
        return "n/a"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def comparison_operator(check_type: str, alarm: bool) -> str:
    """How a value stood to its threshold: ``>`` / ``<=`` (``<`` / ``>=`` for the checks whose
    value must stay at or above it) in ALARM / once resolved."""
    lower_is_worse = check_type in _LOWER_IS_WORSE
    if alarm:
        return "<" if lower_is_worse else ">"
    return ">=" if lower_is_worse else "<="


def comparison(alert: AlertEvent) -> str:
    """``value <op> threshold`` as the check sees it, e.g. ``0.2712 > 0.1``."""
    if alert.value is None and alert.threshold is None:
        return ""
    op = comparison_operator(alert.check_type, alert.state == "ALARM")
    if alert.threshold is None:
        return f"value {fmt_number(alert.value)}"
    return f"{fmt_number(alert.value)} {op} {fmt_number(alert.threshold)}"


def _window(alert: AlertEvent) -> str:
    return f"{_ts(alert.window_start)}..{_ts(alert.window_end)}"


def _ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def status_word(alert: AlertEvent) -> str:
    return "ALARM" if alert.state == "ALARM" else "RESOLVED"


def headline(alert: AlertEvent) -> str:
    """One readable line: state, model, check, feature, value vs threshold, window."""
    parts = [
        f"{status_word(alert)} {alert.model_id}/{alert.variant}",
        f"{alert.check_type} {alert.feature}",
    ]
    cmp = comparison(alert)
    if cmp:
        parts.append(cmp + (f" ({alert.method})" if alert.method else ""))
    parts.append(f"window {_window(alert)}")
    return " | ".join(parts)


def sns_subject(alert: AlertEvent) -> str:
    """At most 100 printable ASCII characters, no line breaks (SNS's rules)."""
    text = f"modelmon {status_word(alert)}: {alert.model_id} {alert.check_type} {alert.feature}"
    clean = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)
    if len(clean) > SNS_SUBJECT_MAX:
        clean = clean[: SNS_SUBJECT_MAX - 3] + "..."
    return clean


def json_body(alert: AlertEvent) -> dict[str, Any]:
    """The generic JSON message (SNS and ``format: json`` webhooks): the alert plus a headline."""
    body: dict[str, Any] = {
        "source": "modelmon",
        "notification_id": alert.event_id,
        "resolved": alert.state == "OK",
        "headline": headline(alert),
    }
    body.update(alert.model_dump(mode="json"))
    return body


def sns_attributes(alert: AlertEvent) -> dict[str, dict[str, str]]:
    """Message attributes a subscription filter policy can match on."""
    values = {
        "model_id": alert.model_id,
        "variant": alert.variant,
        "state": alert.state,
        "check_type": alert.check_type,
        "feature": alert.feature,
        "severity": alert.severity,
        "alert_key": alert.alert_key,
    }
    return {
        name: {"DataType": "String", "StringValue": value}
        for name, value in values.items()
        if value  # SNS rejects empty string attributes
    }


_EMOJI = {"ALARM": ":rotating_light:", "OK": ":white_check_mark:"}


def slack_body(alert: AlertEvent) -> dict[str, Any]:
    """A Slack incoming-webhook body: ``text`` (fallback, notifications) plus ``blocks``."""
    title = f"{status_word(alert)}: {alert.model_id} {alert.check_type} on {alert.feature}"
    fields = [
        ("Model", f"{alert.model_id} ({alert.variant})"),
        ("Check", alert.check_type),
        ("Feature", alert.feature),
        ("Value vs threshold", comparison(alert) or "n/a"),
        ("Severity", alert.severity),
        ("Window", _window(alert)),
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:SLACK_HEADER_MAX]}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": _cut(f"*{k}*\n{_escape(v)}", SLACK_FIELD_MAX)}
                for k, v in fields
            ],
        },
    ]
    if alert.description:
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": _cut(_escape(alert.description), SLACK_TEXT_MAX),
                },
            }
        )
    context = f"alert key `{_escape(alert.alert_key)}`"
    if alert.report_uri:
        context += f" | report: {_escape(alert.report_uri)}"
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": _cut(context, SLACK_FIELD_MAX)}],
        }
    )
    return {"text": f"{_EMOJI[alert.state]} {headline(alert)}", "blocks": blocks}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _escape(text: str) -> str:
    """Slack's mrkdwn needs &, < and > escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def window_line(event: WindowEvaluated) -> str:
    """One line per evaluated window (``modelmon alerts tail --windows``)."""
    r = event.result
    failed = [f"{c.check_type}:{c.feature}" for c in r.checks if c.violated]
    rolling = f" (rolling {r.rolling_windows})" if r.rolling_windows != 1 else ""
    return (
        f"WINDOW {r.model_id}/{r.variant} | {_ts(r.window_start)}..{_ts(r.window_end)}{rolling}"
        f" | {r.event_count} events | {len(failed)}/{len(r.checks)} checks violated"
        + (f": {', '.join(failed)}" if failed else "")
    )


#: Slack accepts at most 50 blocks per message.
SLACK_MAX_BLOCKS = 50


def slack_digest(alerts: list[AlertEvent]) -> dict[str, Any]:
    """Several state changes of one window in one Slack message (one line each)."""
    first = alerts[0]
    alarms = sum(1 for a in alerts if a.state == "ALARM")
    resolved = len(alerts) - alarms
    summary = f"{first.model_id}/{first.variant}: {alarms} check(s) in ALARM, {resolved} resolved"
    emoji = _EMOJI["ALARM" if alarms else "OK"]
    lines = [f"{_EMOJI[a.state]} {_escape(headline(a))}" for a in alerts]
    shown = lines[: SLACK_MAX_BLOCKS - 2]  # leave room for the header and the context
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(summary, SLACK_HEADER_MAX)}},
        *({"type": "section", "text": {"type": "mrkdwn", "text": _cut(line, SLACK_TEXT_MAX)}}
          for line in shown),
    ]  # fmt: skip
    context = f"window {_window(first)}"
    if len(lines) > len(shown):
        context += f" | and {len(lines) - len(shown)} more"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": f"{emoji} {summary} | window {_window(first)}", "blocks": blocks}
