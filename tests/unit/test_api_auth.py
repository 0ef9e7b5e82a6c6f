"""Bearer tokens and roles: secure by default, constant-time comparison, admin implies read."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelmon.api.auth import TokenAuth
from modelmon.errors import ConfigurationError

READ, ADMIN = "r" * 20, "a" * 20


def test_refuses_to_start_without_tokens_unless_insecure() -> None:
    with pytest.raises(ConfigurationError, match="--insecure"):
        TokenAuth.of([], [])
    assert TokenAuth.of([], [], insecure=True).role(None) == "admin"
    with pytest.raises(ConfigurationError, match="16 characters"):
        TokenAuth.of(["short"], [])


def test_roles() -> None:
    auth = TokenAuth.of([READ], [ADMIN])
    assert auth.role(f"Bearer {READ}") == "read"
    assert auth.role(f"bearer {ADMIN}") == "admin"
    assert auth.role(None) is None
    assert auth.role(READ) is None  # no scheme
    assert auth.role(f"Basic {READ}") is None
    # tokens configured: --insecure no longer opens the API
    assert TokenAuth.of([READ], [], insecure=True).role(None) is None


@given(st.text(max_size=80))
def test_only_a_configured_token_grants_a_role(token: str) -> None:
    auth = TokenAuth.of([READ], [ADMIN])
    expected = {READ: "read", ADMIN: "admin"}.get(token.strip())
    assert auth.role(f"Bearer {token}") == expected


@pytest.mark.parametrize("given", [READ, ADMIN, "x" * 20, READ[:-1] + "x"])
def test_every_token_is_compared_in_constant_time_whichever_matches(
    given: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hmac

    from modelmon.api import auth as module

    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(module.hmac, "compare_digest", counting)
    auth = TokenAuth.of([READ, "q" * 20], [ADMIN])
    auth.role(f"Bearer {given}")
    assert len(calls) == 3  # all of them, no early exit
    assert all(len(a) == len(b) == 32 for a, b in calls)  # digests: equal lengths always
