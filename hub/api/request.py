"""Reading requests: whole bodies up to a limit, JSON checked against a model, the language."""

from __future__ import annotations

import json
from typing import Any, Final, TypeVar

from aiohttp import hdrs, web
from pydantic import BaseModel, ValidationError

from hub.api.access import PRINCIPAL_KEY
from hub.api.state import TRANSLATIONS
from hub.auth.principal import Principal
from hub.core.errors import (
    PAYLOAD_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    BadRequestError,
    HubError,
)
from hub.core.jsonwalk import first_flaw
from hub.core.yamlfile import dotted
from hub.integrations.translations import (
    FALLBACK_LANGUAGE,
    Localizer,
    Translations,
    fill,
    negotiate,
)

ModelT = TypeVar("ModelT", bound=BaseModel)

MAX_BODY = 256 * 1024
"""Bytes a JSON body may have: a config-flow answer is a few hundred; this bounds a mistake."""
MAX_DEPTH: Final = 64
"""How deep a JSON body may nest: deeper would exhaust the recursion of the code that walks it."""
JSON_TYPE: Final = "application/json"


class PayloadTooLargeError(HubError):
    """The body is larger than the route takes."""

    code = PAYLOAD_TOO_LARGE
    http_status = 413


class UnsupportedMediaTypeError(HubError):
    """A JSON route was sent a body that does not say it is JSON."""

    code = UNSUPPORTED_MEDIA_TYPE
    http_status = 415


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, however it arrives (in pieces, chunked); ``PayloadTooLargeError`` past ``limit``."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    body = bytearray()
    try:
        # ``content.read(n)`` answers with what is buffered, not ``n`` bytes: a body split over
        # TCP segments must be read to its end, or its first piece is taken for the whole.
        async for chunk in request.content.iter_any():
            body += chunk
            if len(body) > limit:
                raise _too_large(limit)
    except (web.RequestPayloadError, ConnectionResetError) as err:
        # A malformed chunk, or a sender that broke off: nobody may be left to answer, but it
        # is the sender's fault, not a bug to log with a traceback.
        raise BadRequestError(
            f"the body could not be read ({err})", key="errors.body_unreadable"
        ) from None
    return bytes(body)


def _too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"the body is larger than {limit} bytes", key="errors.body_too_large", limit=limit
    )


def parse_json(raw: bytes | str, what: str = "the body") -> Any:
    """``raw`` decoded; a ``BadRequestError`` when it is not JSON, nests too deep or is not text.

    A lone surrogate (``"\\ud800"``) is valid JSON but no string UTF-8 can write: refused here,
    at the edge, it cannot reach a storage file, the database or another person's screen.
    """
    try:
        data = json.loads(raw)
    except RecursionError:  # the decoder recurses: a thousand brackets reach Python's limit
        raise _too_deep(what) from None
    except ValueError as err:  # not JSON, not UTF-8, or an integer of more than 4300 digits
        raise BadRequestError(f"{what} is not valid JSON ({err})", key="errors.not_json") from None
    flaw = first_flaw(data, MAX_DEPTH)
    if flaw is None:
        return data
    if flaw.surrogate is None:
        raise _too_deep(what)
    field = dotted(flaw.path) or what
    raise BadRequestError(
        f"{field}: {flaw.describe()}",
        key="errors.unencodable_text",
        field=field,
        char=f"\\u{ord(flaw.surrogate):04x}",
    )


def _too_deep(what: str) -> BadRequestError:
    return BadRequestError(
        f"{what} is nested more than {MAX_DEPTH} levels deep",
        key="errors.nested_too_deep",
        depth=MAX_DEPTH,
    )


async def read_json(request: web.Request, model: type[ModelT]) -> ModelT:
    """The body parsed as ``model``; a ``BadRequestError`` names what is wrong with it."""
    raw = await read_body(request, MAX_BODY)
    if raw.strip():
        # A cross-site form can post text/plain without asking; only a script allowed by the
        # same-origin rules can send application/json.
        if request.content_type != JSON_TYPE:
            sent = request.headers.get(hdrs.CONTENT_TYPE)
            raise UnsupportedMediaTypeError(
                f"send the body as JSON with Content-Type: {JSON_TYPE}"
                + (f" (this one was {sent[:100]!r})" if sent else " (none was given)"),
                key="errors.send_json",
                content_type=JSON_TYPE,
            )
        data = parse_json(raw)
    else:
        data = {}
    try:
        return model.model_validate(data)
    except ValidationError as err:
        translations = request.app[TRANSLATIONS]
        language = language_of(request, translations, None, None)
        raise invalid_fields(err, translations.localizer(None, language), "body") from None


def read_query(request: web.Request, model: type[ModelT]) -> ModelT:
    """The query string parsed as ``model`` (a repeated name: its last value), as ``read_json``."""
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as err:
        translations = request.app[TRANSLATIONS]
        language = language_of(request, translations, None, None)
        raise invalid_fields(err, translations.localizer(None, language), "query") from None


def invalid_fields(err: ValidationError, localizer: Localizer, root: str) -> BadRequestError:
    """A validation failure: each field's path as is, the sentence after it in the language."""
    english = [f"{_path(e, root)}: {e['msg'].removeprefix('Value error, ')}" for e in err.errors()]
    if localizer.language.split("-", 1)[0] == FALLBACK_LANGUAGE:
        localized = english
    else:
        localized = [f"{_path(e, root)}: {_problem(e, localizer)}" for e in err.errors()]
    return BadRequestError(
        "; ".join(english), key="errors.invalid_fields", problems="; ".join(localized)
    )


def _path(error: Any, root: str) -> str:
    return dotted(tuple(error["loc"])) or root


def _problem(error: Any, localizer: Localizer) -> str:
    # An integration's or a validator's own words have no key: they stay as written.
    template = localizer.get(f"validation.{error['type']}")
    if template is None:
        return str(error["msg"]).removeprefix("Value error, ")
    context = error.get("ctx") or {}
    return fill(template, {name: str(value)[:100] for name, value in context.items()})


def language_of(
    request: web.Request, translations: Translations, domain: str | None, explicit: str | None
) -> str:
    """The answer's language: an explicit choice, the person's setting, then ``Accept-Language``."""
    principal = request.get(PRINCIPAL_KEY)
    return negotiate(
        explicit=explicit or request.query.get("language"),
        person=principal.language if isinstance(principal, Principal) else None,
        accept_language=request.headers.get("Accept-Language"),
        available=translations.languages(domain),
    )
