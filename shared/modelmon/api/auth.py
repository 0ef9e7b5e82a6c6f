"""Bearer tokens with two roles: ``read`` (every GET) and ``admin`` (also the registry writes).

Tokens are compared in constant time: the presented token is hashed and compared with every
configured token's hash with ``hmac.compare_digest``, all of them every time, so neither the
answer's timing nor its path tells which token (or how much of one) matched.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from modelmon.errors import ConfigurationError

Role = Literal["read", "admin"]


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True)
class TokenAuth:
    """Which role a request's ``Authorization`` header grants (None: no valid token)."""

    tokens: tuple[tuple[bytes, Role], ...]
    insecure: bool = False

    @staticmethod
    def of(read: Iterable[str], admin: Iterable[str], insecure: bool = False) -> TokenAuth:
        """Refuses an API without tokens unless ``insecure`` says so, and empty tokens."""
        pairs: list[tuple[str, Role]] = [(t, "read") for t in read] + [(t, "admin") for t in admin]
        if any(len(t.strip()) < 16 for t, _ in pairs):
            raise ConfigurationError("API tokens must be at least 16 characters")
        if not pairs and not insecure:
            raise ConfigurationError(
                "the API has no tokens: set MODELMON_API__READ_TOKENS / MODELMON_API__ADMIN_TOKENS "
                "(JSON lists, e.g. '[\"<32 random characters>\"]') or start it with --insecure "
                "for local use only"
            )
        return TokenAuth(tuple((_digest(t), role) for t, role in pairs), insecure)

    def role(self, authorization: str | None) -> Role | None:
        if self.insecure and not self.tokens:
            return "admin"
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        given = _digest(token.strip())
        found: Role | None = None
        for digest, role in self.tokens:  # no early exit: same work whichever matches
            if hmac.compare_digest(given, digest) and (found is None or role == "admin"):
                found = role
        return found
