"""Model endpoints over HTTP: everyone signed in may list them; admins add, change and remove."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hub.api.access import principal_of, require_admin
from hub.api.request import read_json
from hub.api.state import CHAT
from hub.core.errors import BadRequestError

TierName = Literal["unregulated", "regulated", "internal"]


class NewModel(BaseModel):
    """``POST /api/models``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    base_url: str = Field(min_length=8, max_length=500)
    model: str = Field(min_length=1, max_length=200)
    tier: TierName = "unregulated"
    api_key: str | None = Field(default=None, max_length=4096)
    api_key_env: object = None
    """Declared only to be refused by name (see ``_refuse_key_env``)."""
    is_default: bool = False


class ModelChanges(BaseModel):
    """``PATCH /api/models/{name}``: only what is given changes; ``api_key: ""`` clears the key."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = Field(default=None, min_length=8, max_length=500)
    model: str | None = Field(default=None, min_length=1, max_length=200)
    tier: TierName | None = None
    api_key: str | None = Field(default=None, max_length=4096)
    api_key_env: object = None
    """Declared only to be refused by name (see ``_refuse_key_env``)."""
    is_default: bool | None = None


def _refuse_key_env(body: BaseModel) -> None:
    # The hub would send the variable's value to whatever base_url the model names, so naming one
    # (HUB_MASTER_KEY, say) from the UI would hand the hub's own secrets to any address.
    if "api_key_env" in body.model_fields_set:
        raise BadRequestError(
            "api_key_env: name an environment variable only in configuration.yaml (models:);"
            " here, give the key itself as api_key"
        )


async def list_models(request: web.Request) -> web.Response:
    """Every model and the default; whether each has a key, never the key."""
    principal_of(request)
    return web.json_response((await request.app[CHAT].get()).models.views())


async def add_model(request: web.Request) -> web.Response:
    """Add a model endpoint (admins)."""
    require_admin(principal_of(request))
    body = await read_json(request, NewModel)
    _refuse_key_env(body)
    models = (await request.app[CHAT].get()).models
    added = await models.add(**body.model_dump(exclude={"api_key_env"}))
    return web.json_response(models.view(added.name), status=201)


async def change_model(request: web.Request) -> web.Response:
    """Change a model endpoint, or which one is the default (admins)."""
    require_admin(principal_of(request))
    body = await read_json(request, ModelChanges)
    _refuse_key_env(body)
    models = (await request.app[CHAT].get()).models
    name = request.match_info["name"]
    await models.update(name, body.model_dump(exclude_unset=True))
    return web.json_response(models.view(name))


async def remove_model(request: web.Request) -> web.Response:
    """Remove a model endpoint added in the UI (admins); its key becomes unreadable."""
    require_admin(principal_of(request))
    await (await request.app[CHAT].get()).models.remove(request.match_info["name"])
    return web.Response(status=204)


def register(app: web.Application) -> None:
    """Add the model routes."""
    app.router.add_get("/api/models", list_models)
    app.router.add_post("/api/models", add_model)
    app.router.add_patch("/api/models/{name}", change_model)
    app.router.add_delete("/api/models/{name}", remove_model)
