"""Sign-in over HTTP: onboarding, login, refresh, logout, tokens, people; and the auth middleware."""

from __future__ import annotations

import functools
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel, ConfigDict, Field

from hub.api.access import PRINCIPAL_KEY, principal_of, require_admin
from hub.api.client_address import client_address
from hub.api.errors import respond
from hub.api.origin import check_origin
from hub.api.request import read_json
from hub.api.state import AUTH, PEOPLE, TRANSLATIONS
from hub.auth.errors import check_confirmed
from hub.auth.throttle import LoginThrottledError
from hub.core.errors import LANGUAGE_UNKNOWN, BadRequestError, NotFoundError, UnauthorizedError

PUBLIC: Final = frozenset(
    {
        "/api/health",
        "/api/onboarding",
        "/api/auth/login",
        "/api/auth/refresh",
        "/api/websocket",
        "/api/backups/restore",
    }
)
"""Routes that answer without a token; ``/api/websocket`` signs in inside the protocol, and
``/api/backups/restore`` answers only while onboarding is open (a new hub's first page)."""


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every ``/api`` route needs a valid access token, except the public ones."""
    path = request.path
    if not path.startswith("/api/") or path in PUBLIC:
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    principal = (
        request.app[AUTH].authenticate(token.strip()) if scheme.lower() == "bearer" else None
    )
    if principal is None:
        response = respond(
            request,
            UnauthorizedError(
                "sign in first: a valid bearer token is needed", key="errors.sign_in_first"
            ),
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="hub"'
        return response
    request[PRINCIPAL_KEY] = principal
    return await handler(request)


class Credentials(BaseModel):
    """A username and password."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class Onboarding(Credentials):
    """The owner's account."""

    display_name: str | None = Field(default=None, max_length=100)
    language: str | None = Field(default=None, max_length=20)
    password_confirmation: str | None = Field(default=None, max_length=1024)
    """The password typed again; when given, it must match."""


class RefreshBody(BaseModel):
    """``POST /api/auth/refresh``."""

    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=200)


class TokenBody(BaseModel):
    """``POST /api/auth/tokens``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)


class NewPerson(Credentials):
    """``POST /api/people``."""

    display_name: str | None = Field(default=None, max_length=100)
    language: str | None = Field(default=None, max_length=20)
    is_admin: bool = False
    password_confirmation: str | None = Field(default=None, max_length=1024)


class SignOutEverywhere(BaseModel):
    """``POST /api/auth/sign-out-everywhere``."""

    model_config = ConfigDict(extra="forbid")

    keep_this: bool = False
    """Keep the sign-in this request comes from (the others end)."""


class PersonChanges(BaseModel):
    """``PATCH /api/people/{id}``."""

    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, max_length=100)
    language: str | None = Field(default=None, max_length=20)
    is_admin: bool | None = None
    password: str | None = Field(default=None, max_length=1024)
    current_password: str | None = Field(default=None, max_length=1024)
    """Needed when a person changes their own password; an admin resetting another's needs none."""
    password_confirmation: str | None = Field(default=None, max_length=1024)


def _check_language(request: web.Request, language: str | None) -> None:
    """Refuse a language the hub has no translations for (empty: follow the browser)."""
    if language and language not in request.app[TRANSLATIONS].languages():
        raise BadRequestError(
            f"language: the hub does not speak {language!r}",
            code=LANGUAGE_UNKNOWN,
            key="errors.language_unknown",
            language=language,
        )


def _client(request: web.Request) -> str:
    return client_address(request)


async def onboarding_status(request: web.Request) -> web.Response:
    """Whether the hub still waits for its owner."""
    return web.json_response({"open": request.app[AUTH].onboarding_open})


async def onboard(request: web.Request) -> web.Response:
    """Create the owner and sign them in; refused once anyone exists, and to other sites' pages."""
    check_origin(request)
    body = await read_json(request, Onboarding)
    check_confirmed(body.password, body.password_confirmation)
    _check_language(request, body.language)
    pair = await request.app[AUTH].onboard(
        body.username, body.password, body.display_name, body.language
    )
    return web.json_response(pair.body())


def _throttled(handler: Handler) -> Handler:
    """A handler whose refusal by the login throttle answers 429 with ``Retry-After``."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except LoginThrottledError as err:
            response = respond(request, err)
            response.headers["Retry-After"] = str(err.retry_after)
            return response

    return guarded


@_throttled
async def login(request: web.Request) -> web.Response:
    """Trade a username and password for tokens; attempts are throttled."""
    body = await read_json(request, Credentials)
    pair = await request.app[AUTH].login(body.username, body.password, _client(request))
    return web.json_response(pair.body())


async def refresh(request: web.Request) -> web.Response:
    """A new access token and a new refresh token; the one presented stops working."""
    body = await read_json(request, RefreshBody)
    pair = await request.app[AUTH].refresh(body.refresh_token)
    return web.json_response(pair.body())


async def logout(request: web.Request) -> web.Response:
    """Revoke the caller's sign-in; its refresh token and accesses stop working."""
    await request.app[AUTH].logout(principal_of(request))
    return web.json_response({"signed_out": True})


async def sign_out_everywhere(request: web.Request) -> web.Response:
    """End every sign-in of the caller, but this one when ``keep_this``; scripts' tokens stay."""
    body = await read_json(request, SignOutEverywhere)
    ended = await request.app[AUTH].sign_out_everywhere(
        principal_of(request), keep_this=body.keep_this
    )
    return web.json_response({"signed_out": ended})


async def current_user(request: web.Request) -> web.Response:
    """The signed-in person."""
    principal = principal_of(request)
    return web.json_response(request.app[AUTH].person(principal.person_id).public())


async def list_tokens(request: web.Request) -> web.Response:
    """The caller's tokens (sign-ins and named long-lived ones)."""
    principal = principal_of(request)
    tokens = request.app[AUTH].tokens_of(principal.person_id)
    return web.json_response({"tokens": [t.public() for t in tokens]})


async def create_token(request: web.Request) -> web.Response:
    """A named long-lived token for a script, shown this once."""
    body = await read_json(request, TokenBody)
    record, token = await request.app[AUTH].create_long_lived(principal_of(request), body.name)
    return web.json_response({**record.public(), "token": token})


async def revoke_token(request: web.Request) -> web.Response:
    """Revoke one of the caller's tokens (an admin may revoke anyone's)."""
    principal = principal_of(request)
    auth = request.app[AUTH]
    token_id = request.match_info["token_id"]
    record = auth.token(token_id)
    if record is None or (record.person_id != principal.person_id and not principal.is_admin):
        raise NotFoundError(
            f"no token {token_id!r}", key="errors.token_not_found", token=token_id[:64]
        )
    await auth.revoke(token_id)
    return web.json_response({"id": token_id, "revoked": True})


async def list_people(request: web.Request) -> web.Response:
    """Every account with how many config entries of their own it holds (admins only)."""
    require_admin(principal_of(request))
    removal = request.app[PEOPLE]
    people = [
        {**p.public(), "entries": len(removal.entries_of(p.person_id))}
        for p in request.app[AUTH].people()
    ]
    return web.json_response({"people": people})


async def create_person(request: web.Request) -> web.Response:
    """Add an account (admins only)."""
    require_admin(principal_of(request))
    body = await read_json(request, NewPerson)
    check_confirmed(body.password, body.password_confirmation)
    _check_language(request, body.language)
    person = await request.app[AUTH].create_person(
        body.username,
        body.password,
        display_name=body.display_name,
        language=body.language,
        is_admin=body.is_admin,
    )
    return web.json_response(person.public())


@_throttled
async def update_person(request: web.Request) -> web.Response:
    """Change an account: admins any, a person their own name, language and password (given the
    current one)."""
    principal = principal_of(request)
    person_id = request.match_info["person_id"]
    body = await read_json(request, PersonChanges)
    if person_id != principal.person_id or body.is_admin is not None:
        require_admin(principal)
    check_confirmed(body.password, body.password_confirmation)
    _check_language(request, body.language)
    person = await request.app[AUTH].update_person(
        person_id,
        display_name=body.display_name,
        language=body.language,
        is_admin=body.is_admin,
        password=body.password,
        current_password=body.current_password,
        by=principal,
        client=_client(request),
    )
    return web.json_response(person.public())


async def delete_person(request: web.Request) -> web.Response:
    """Remove an account with its tokens, dashboards, chats and preferences (admins only); its
    config entries go with ``?entries=delete`` or to an admin with ``?transfer_to=<id>``."""
    require_admin(principal_of(request))
    removed = await request.app[PEOPLE].remove(
        request.match_info["person_id"],
        entries=request.query.get("entries") or None,
        transfer_to=request.query.get("transfer_to") or None,
    )
    return web.json_response(removed.body())


def register(app: web.Application) -> None:
    """Add the sign-in, token and people routes."""
    app.router.add_get("/api/onboarding", onboarding_status)
    app.router.add_post("/api/onboarding", onboard)
    app.router.add_post("/api/auth/login", login)
    app.router.add_post("/api/auth/refresh", refresh)
    app.router.add_post("/api/auth/logout", logout)
    app.router.add_post("/api/auth/sign-out-everywhere", sign_out_everywhere)
    app.router.add_get("/api/auth/current_user", current_user)
    app.router.add_get("/api/auth/tokens", list_tokens)
    app.router.add_post("/api/auth/tokens", create_token)
    app.router.add_delete("/api/auth/tokens/{token_id}", revoke_token)
    app.router.add_get("/api/people", list_people)
    app.router.add_post("/api/people", create_person)
    app.router.add_patch("/api/people/{person_id}", update_person)
    app.router.add_delete("/api/people/{person_id}", delete_person)
