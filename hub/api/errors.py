"""The one error envelope: every failure of an ``/api`` route answers ``{"error": {code, message}}``."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler

from hub.core.disk import DiskFaultError
from hub.core.errors import BAD_REQUEST, INTERNAL_ERROR, METHOD_NOT_ALLOWED, NOT_FOUND, HubError

_LOGGER = logging.getLogger(__name__)

_CODES_BY_STATUS: Final = {400: BAD_REQUEST, 404: NOT_FOUND, 405: METHOD_NOT_ALLOWED}


def error_response(
    status: int, code: str, message: str, *, correlation_id: str | None = None
) -> web.Response:
    """Serialize one error in the envelope every client understands."""
    error: dict[str, str] = {"code": code, "message": message}
    if correlation_id is not None:
        error["correlation_id"] = correlation_id
    return web.json_response({"error": error}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn ``HubError``, HTTP errors and anything unexpected into the envelope; never a traceback."""
    try:
        return await handler(request)
    except DiskFaultError as err:
        # The disk's state is logged once per episode (``WriteHealth``), not once per request.
        _LOGGER.info("%s %s refused: %s", request.method, request.path, err.message)
        return error_response(err.http_status, err.code, err.message)
    except HubError as err:
        if err.http_status >= 500:
            _LOGGER.error("%s %s failed: %s", request.method, request.path, err.message)
        return error_response(err.http_status, err.code, err.message)
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith("/api"):
            raise
        code = _CODES_BY_STATUS.get(exc.status, f"http_{exc.status}")
        return error_response(exc.status, code, exc.reason)
    except asyncio.CancelledError:
        raise
    except Exception:
        correlation_id = secrets.token_hex(4)
        _LOGGER.exception(
            "Unhandled error on %s %s [correlation id %s]",
            request.method,
            request.path,
            correlation_id,
        )
        return error_response(
            500,
            INTERNAL_ERROR,
            f"Internal error; the hub's log has the details under {correlation_id}.",
            correlation_id=correlation_id,
        )
