"""The one error envelope: every failure of an ``/api`` route answers ``{"error": {code, message}}``.

``message`` is rendered in the request's language (the person's setting, then
``Accept-Language``) from the error's translation key; ``key`` and ``params`` go along, so a client
can render the same sentence itself.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from typing import Any, Final

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from hub.api.access import PRINCIPAL_KEY
from hub.api.state import TRANSLATIONS
from hub.auth.principal import Principal
from hub.core.disk import DiskFaultError
from hub.core.errors import (
    BAD_REQUEST,
    FORBIDDEN,
    INTERNAL_ERROR,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    RATE_LIMITED,
    REQUEST_TIMEOUT,
    UNAUTHORIZED,
    UNSUPPORTED_MEDIA_TYPE,
    HubError,
    error_key,
)
from hub.integrations.translations import FALLBACK_LANGUAGE, Translations, fill, negotiate

_LOGGER = logging.getLogger(__name__)

_CODES_BY_STATUS: Final = {
    400: BAD_REQUEST,
    401: UNAUTHORIZED,
    403: FORBIDDEN,
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    408: REQUEST_TIMEOUT,
    413: PAYLOAD_TOO_LARGE,
    415: UNSUPPORTED_MEDIA_TYPE,
    429: RATE_LIMITED,
}


def internal_error(correlation_id: str) -> HubError:
    """The error a person sees for a bug: only the id the log has the details under."""
    return HubError(
        f"Internal error; the hub's log has the details under {correlation_id}.",
        key=error_key(INTERNAL_ERROR),
        correlation_id=correlation_id,
    )


def localize(err: HubError, translations: Translations, language: str) -> str:
    """The error's sentence in ``language``.

    A specific key is rendered in every language, English included. An error raised with only
    an English sentence keeps it in English and gets its code's general sentence elsewhere.
    """
    if err.key is None and language.split("-", 1)[0] == FALLBACK_LANGUAGE:
        return err.message
    localizer = translations.localizer(None, language)
    template = localizer.get(err.translation_key)
    if template is None and err.key is not None:
        template = localizer.get(error_key(err.code))
    return err.message if template is None else fill(template, err.params)


def error_body(err: HubError, translations: Translations, language: str) -> dict[str, Any]:
    """The ``error`` object of the envelope (HTTP and websocket alike)."""
    body: dict[str, Any] = {
        "code": err.code,
        "message": localize(err, translations, language),
        "key": err.translation_key,
        "params": dict(err.params),
    }
    correlation_id = err.params.get("correlation_id")
    if correlation_id is not None:
        body["correlation_id"] = correlation_id
    return body


def respond(request: web.Request, err: HubError, status: int | None = None) -> web.Response:
    """``err`` as the envelope, in the request's language."""
    translations = request.app[TRANSLATIONS]
    body = error_body(err, translations, request_language(request))
    return web.json_response({"error": body}, status=status or err.http_status)


def request_language(request: web.Request) -> str:
    """The language a request's answers are in: ``?language=``, the person's, then the header."""
    principal = request.get(PRINCIPAL_KEY)
    return _language(
        request.query.get("language"),
        principal.language if isinstance(principal, Principal) else None,
        request.headers.get(hdrs.ACCEPT_LANGUAGE),
        frozenset(request.app[TRANSLATIONS].languages()),
    )


@functools.lru_cache(maxsize=256)
def _language(
    explicit: str | None, person: str | None, accept: str | None, available: frozenset[str]
) -> str:
    # A flood of refused requests (a script with a stale token) repeats one header: negotiated once.
    return negotiate(
        explicit=explicit, person=person, accept_language=accept, available=set(available)
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn ``HubError``, HTTP errors and anything unexpected into the envelope; never a traceback."""
    try:
        return await handler(request)
    except DiskFaultError as err:
        # The disk's state is logged once per episode (``WriteHealth``), not once per request.
        _LOGGER.info("%s %s refused: %s", request.method, request.path, err.message)
        return respond(request, err)
    except HubError as err:
        if err.http_status >= 500 and err.logged:
            _LOGGER.error("%s %s failed: %s", request.method, request.path, err.message)
        return respond(request, err)
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith("/api"):
            raise
        code = _CODES_BY_STATUS.get(exc.status, BAD_REQUEST if exc.status < 500 else INTERNAL_ERROR)
        return respond(request, HubError(exc.reason, code=code), exc.status)
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
        return respond(request, internal_error(correlation_id))
