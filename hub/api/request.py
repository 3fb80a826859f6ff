"""Reading requests: JSON bodies checked against a model, the caller's language, the caller."""

from __future__ import annotations

import json
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from hub.api.access import PRINCIPAL_KEY
from hub.auth.principal import Principal
from hub.core.errors import BadRequestError
from hub.core.yamlfile import dotted
from hub.integrations.translations import Translations, negotiate

ModelT = TypeVar("ModelT", bound=BaseModel)

MAX_BODY = 256 * 1024
"""Bytes a JSON body may have: a config-flow answer is a few hundred; this bounds a mistake."""


async def read_json(request: web.Request, model: type[ModelT]) -> ModelT:
    """The body parsed as ``model``; a ``BadRequestError`` names what is wrong with it."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise BadRequestError(f"the body is larger than {MAX_BODY} bytes")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise BadRequestError(f"the body is larger than {MAX_BODY} bytes")
    try:
        data = json.loads(raw) if raw.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadRequestError(f"the body is not valid JSON ({err})") from None
    try:
        return model.model_validate(data)
    except ValidationError as err:
        problems = [
            f"{dotted(tuple(e['loc'])) or 'body'}: {e['msg'].removeprefix('Value error, ')}"
            for e in err.errors()
        ]
        raise BadRequestError("; ".join(problems)) from None


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
