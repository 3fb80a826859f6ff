"""Reading requests: JSON bodies checked against a model, the caller's language, the caller."""

from __future__ import annotations

import json
from typing import Any, Final, TypeVar

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
MAX_DEPTH: Final = 64
"""How deep a JSON body may nest: deeper would exhaust the recursion of the code that walks it."""


def parse_json(raw: bytes | str, what: str = "the body") -> Any:
    """``raw`` decoded; a ``BadRequestError`` when it is not JSON or nests deeper than ``MAX_DEPTH``."""
    try:
        data = json.loads(raw)
    except RecursionError:  # the decoder recurses: a thousand brackets reach Python's limit
        raise BadRequestError(f"{what} is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as err:  # not JSON, not UTF-8, or an integer of more than 4300 digits
        raise BadRequestError(f"{what} is not valid JSON ({err})") from None
    level = [data]
    for _ in range(MAX_DEPTH):
        level = [
            child
            for item in level
            if isinstance(item, dict | list)
            for child in (item.values() if isinstance(item, dict) else item)
        ]
    if any(isinstance(item, dict | list) for item in level):
        raise BadRequestError(f"{what} is nested more than {MAX_DEPTH} levels deep")
    return data


async def read_json(request: web.Request, model: type[ModelT]) -> ModelT:
    """The body parsed as ``model``; a ``BadRequestError`` names what is wrong with it."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise BadRequestError(f"the body is larger than {MAX_BODY} bytes")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise BadRequestError(f"the body is larger than {MAX_BODY} bytes")
    data = parse_json(raw) if raw.strip() else {}
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
