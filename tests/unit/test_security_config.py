"""Secure defaults in model configs: https-only webhooks, MODELMON_-only secret variables."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from modelmon.alerting.plan import Delivery
from modelmon.alerting.retry import RejectedDeliveryError
from modelmon.alerting.senders import WebhookSender
from modelmon.config import WebhookRoute
from modelmon.errors import ConfigurationError
from modelmon_services.ingest.app import Ingest

SCHEMES = st.sampled_from(["http", "HTTP", "Http", "https", "HTTPS", "file", "ftp", "gopher", ""])


@settings(max_examples=100, deadline=None)
@given(scheme=SCHEMES, host=st.sampled_from(["127.0.0.1", "example.com"]), allow=st.booleans())
def test_webhooks_are_https_unless_the_route_allows_http(
    scheme: str, host: str, allow: bool
) -> None:
    url = f"{scheme}://{host}/hook" if scheme else f"{host}/hook"
    plain_http = scheme.lower() == "http"
    if plain_http and not allow:
        with pytest.raises(ValidationError, match="allow_http"):
            WebhookRoute(url=url, allow_http=allow)
        return
    route = WebhookRoute(url=url, allow_http=allow)
    if scheme.lower() in ("https", "http"):
        return
    sender = WebhookSender(lambda name: None, lambda: 0.0)
    delivery = Delivery(id="d", kind="webhook", route="webhook[0]", webhook=route)
    with pytest.raises(RejectedDeliveryError, match="refused"):
        sender(delivery)


@settings(max_examples=100, deadline=None)
@given(name=st.text(st.sampled_from("ABCXYZ_09az-$."), min_size=1, max_size=20))
def test_signing_secrets_come_from_the_modelmon_namespace_only(name: str) -> None:
    for candidate in (name, "MODELMON_" + name, "AWS_SECRET_ACCESS_KEY"):
        ok = (
            candidate.startswith("MODELMON_")
            and all(c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_" for c in candidate[9:])
            and len(candidate) > 9
        )
        if ok:
            assert WebhookRoute(url="https://x/h", secret_env=candidate).secret_env == candidate
        else:
            with pytest.raises(ValidationError):
                WebhookRoute(url="https://x/h", secret_env=candidate)


def test_ingest_refuses_to_run_without_a_token_unless_insecure() -> None:
    with pytest.raises(ConfigurationError, match="--insecure"):
        Ingest(None, "t", None, None, token=None, max_body_bytes=1, max_event_bytes=1,  # type: ignore[arg-type]
               redaction=None)  # type: ignore[arg-type]  # fmt: skip
    with pytest.raises(ConfigurationError):
        Ingest(None, "t", None, None, token="", max_body_bytes=1, max_event_bytes=1,  # type: ignore[arg-type]
               redaction=None)  # type: ignore[arg-type]  # fmt: skip
