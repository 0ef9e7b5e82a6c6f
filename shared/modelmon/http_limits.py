"""Bounded work per request for the HTTP entry points (capture proxy, ingest).

- ``HttpLimits``: body cap, body read timeout, header timeout (aiohttp closes a connection
  that has not sent a whole request head within ``keepalive_timeout``, counted from the
  connection's start), and a cap on open connections.
- ``read_body``: reads a request body within the cap and the timeout, chunk by chunk (a
  ``Content-Length`` over the cap is refused before reading); a client that went away is
  ``ClientGone``, logged at DEBUG, never a traceback.
- ``limit_connections`` (applied by ``modelmon.runtime.WebService`` for a ``Listener`` with
  ``max_connections``) and ``listener_options`` (the header timeout) put them in place.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

log = logging.getLogger(__name__)

#: What a client that disconnects mid-request makes aiohttp raise.
CLIENT_GONE = (ConnectionResetError, aiohttp.ClientConnectionResetError, aiohttp.ClientPayloadError)


@dataclass(frozen=True)
class HttpLimits:
    max_body_bytes: int = 16 * 1024 * 1024
    body_timeout: float = 30.0
    header_timeout: float = 15.0
    max_connections: int = 1000


class ClientGone(Exception):
    """The client closed the connection before its request was read."""


def too_large(limit: int) -> web.Response:
    return web.json_response(
        {"error": f"body exceeds the limit of {limit} bytes"},
        status=413,
        headers={"Connection": "close"},
    )


def too_slow(timeout: float) -> web.Response:
    return web.json_response(
        {"error": f"body not received within {timeout:g} s"},
        status=408,
        headers={"Connection": "close"},
    )


async def read_body(request: web.BaseRequest, limits: HttpLimits) -> bytes | web.Response:
    """The body, or the 413/408 answer to send; raises ``ClientGone``."""
    if (request.content_length or 0) > limits.max_body_bytes:
        return too_large(limits.max_body_bytes)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(limits.body_timeout):
            async for chunk in request.content.iter_any():
                size += len(chunk)
                if size > limits.max_body_bytes:
                    return too_large(limits.max_body_bytes)
                chunks.append(chunk)
    except TimeoutError:
        return too_slow(limits.body_timeout)
    except CLIENT_GONE as exc:
        raise ClientGone(str(exc) or type(exc).__name__) from exc
    return b"".join(chunks)


def gone_quietly(exc: ClientGone) -> web.Response:
    """The answer to a request whose client left (never delivered): logged at DEBUG only."""
    log.debug("client went away: %s", exc)
    return web.Response(status=499, headers={"Connection": "close"})


def limit_connections(server: web.Server, max_connections: int) -> None:
    """Close a new connection at once when ``max_connections`` are already open."""
    admit = server.connection_made

    def connection_made(handler: Any, transport: asyncio.Transport) -> None:
        admit(handler, transport)
        if len(server.connections) > max_connections:
            log.debug("connection refused: %d open", max_connections)
            # after the handler has started (closing within connection_made breaks it)
            asyncio.get_running_loop().call_soon(transport.close)

    server.connection_made = connection_made  # type: ignore[method-assign]


def listener_options(limits: HttpLimits) -> dict[str, Any]:
    """aiohttp runner options for ``limits``: the header timeout is aiohttp's keep-alive
    timeout, which it counts from a connection's start until a whole request head arrived."""
    return {"keepalive_timeout": limits.header_timeout}
