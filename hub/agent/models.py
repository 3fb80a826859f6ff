"""Model endpoints: OpenAI-compatible servers from ``configuration.yaml`` and from the web UI.

A model from the configuration file is read-only here (only which one is the default may change);
one added in the UI is stored in ``.storage/core.models`` with its API key encrypted by the keyring.
A key from the configuration file only ever comes from the environment variable it names.
pydantic-ai and the openai SDK are imported when a model is first built, never at start-up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

from hub.config import ModelConfig
from hub.core.committed import Committed
from hub.core.crypto import Keyring
from hub.core.errors import (
    MODEL_EXISTS,
    MODEL_NOT_FOUND,
    MODEL_READ_ONLY,
    NO_MODEL,
    BadRequestError,
    HubError,
    NotFoundError,
    StorageError,
)
from hub.core.redact import SECRETS
from hub.core.storage import StorageManager
from hub.integrations.manifest import Tier, parse_tier

if TYPE_CHECKING:
    from pydantic_ai.models import Model

MODELS_KEY: Final = "core.models"
API_KEY_FIELD: Final = "api_key"
_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
_ENV: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TIERS: Final = ("unregulated", "regulated", "internal")


class NoModelError(HubError):
    """No model is configured, or the one asked for is gone."""

    code = NO_MODEL
    http_status = 400


class ModelNotFoundError(NotFoundError):
    """No model of that name."""

    code = MODEL_NOT_FOUND


class ModelExistsError(HubError):
    """A model of that name exists already."""

    code = MODEL_EXISTS
    http_status = 409


@dataclass(frozen=True, slots=True)
class ModelEndpoint:
    """One model endpoint; ``api_key`` is ciphertext (UI models) and never leaves this module."""

    name: str
    base_url: str
    model: str
    tier: str
    api_key_env: str | None
    source: str
    api_key: str | None = None

    @property
    def tier_level(self) -> Tier:
        """The tier as the gate compares it."""
        return parse_tier(self.tier)

    def public(self, *, is_default: bool) -> dict[str, Any]:
        """What a client sees: whether there is a key, never the key."""
        return {
            "name": self.name,
            "base_url": self.base_url,
            "model": self.model,
            "tier": self.tier,
            "is_default": is_default,
            "source": self.source,
            "has_api_key": self.api_key is not None,
            "api_key_env": self.api_key_env,
            "read_only": self.source == "configuration",
        }

    def stored(self) -> dict[str, Any]:
        """What ``.storage/core.models`` holds for a UI model."""
        return {
            "name": self.name,
            "base_url": self.base_url,
            "model": self.model,
            "tier": self.tier,
            "api_key_env": self.api_key_env,
            "api_key": self.api_key,
        }


class ModelRegistry:
    """Every model endpoint and the default; builds pydantic-ai models on demand."""

    def __init__(
        self,
        storage: StorageManager,
        keyring: Keyring,
        configured: tuple[ModelConfig, ...],
        env: Mapping[str, str],
        *,
        request_timeout: float = 120.0,
    ) -> None:
        self._state = Committed(storage.store(MODELS_KEY, 1), _Stored({}, None), _Stored.encode)
        self._keyring = keyring
        self._env = env
        self._request_timeout = request_timeout
        self._configured = {
            m.name: ModelEndpoint(
                m.name, m.base_url, m.model, m.tier, m.api_key_env, "configuration"
            )
            for m in configured
        }
        self._config_default = next((m.name for m in configured if m.default), None)
        self._clients: dict[str, Any] = {}
        """One HTTP client per endpoint, so runs reuse its connections; closed when it changes."""

    async def load(self) -> None:
        """Read the models added in the UI, and the chosen default."""
        data = await self._state.store.load()
        if data is None:
            return
        # A UI model never reads an environment variable (see ``api_key``); one stored before
        # that rule loses its variable here rather than keep a value nobody can see is ignored.
        ui = {
            item["name"]: ModelEndpoint(**{**item, "api_key_env": None}, source="ui")
            for item in data.get("models", [])
            if item["name"] not in self._configured
        }
        self._state.reset(_Stored(ui, data.get("default")))

    # Reading

    def all(self) -> list[ModelEndpoint]:
        """Configuration models first, then UI ones, each in the order they were added."""
        return self._all(self._state.value)

    def default_name(self) -> str | None:
        """The default: the one chosen in the UI, else the configuration's, else the first."""
        return self._default_of(self._state.value)

    def get(self, name: str) -> ModelEndpoint:
        """One model, or ``ModelNotFoundError``."""
        found = self._find(name)
        if found is None:
            raise ModelNotFoundError(f"no model named {name!r}")
        return found

    def resolve(self, name: str | None) -> ModelEndpoint:
        """The model a run uses: the one named, else the default; ``NoModelError`` when none."""
        if name is not None and self._find(name) is not None:
            return self.get(name)
        default = self.default_name()
        if default is None:
            raise NoModelError("no model is configured: add one in Settings → Models")
        return self.get(default)

    def views(self) -> dict[str, Any]:
        """``GET /api/models``."""
        default = self.default_name()
        return {
            "models": [m.public(is_default=m.name == default) for m in self.all()],
            "default": default,
        }

    def view(self, name: str) -> dict[str, Any]:
        """One model as a client sees it."""
        return self.get(name).public(is_default=name == self.default_name())

    # Changing (admins only; the HTTP layer checks)

    async def add(
        self,
        *,
        name: str,
        base_url: str,
        model: str,
        tier: str,
        api_key: str | None = None,
        is_default: bool = False,
    ) -> ModelEndpoint:
        """Add a model; its API key is encrypted before anything is stored.

        There is no ``api_key_env`` here: only ``configuration.yaml`` may name an environment
        variable, since the hub sends its value to the model's address.
        """
        _check(name=name, base_url=base_url, model=model, tier=tier, api_key_env=None)
        self._check_free(name)
        sealed = await self._seal(name, api_key) if api_key else None
        self._check_free(name)  # again: another add of this name may have been staged meanwhile
        endpoint = ModelEndpoint(name, base_url, model, tier, None, "ui", sealed)
        try:
            await self._state.change(
                lambda state: _Stored(
                    {**state.ui, name: endpoint}, name if is_default else state.default
                )
            )
        except StorageError:
            # The disk refused: no model, and no data key left behind for a key nobody stores.
            if sealed is not None:
                await self._keyring.forget_owner(_owner(name))
            raise
        return endpoint

    async def update(self, name: str, changes: Mapping[str, Any]) -> ModelEndpoint:
        """Change a UI model; ``api_key`` omitted keeps it, ``""`` clears it, a value replaces it."""
        current = self.get(name)
        fields = {k: v for k, v in changes.items() if k != "is_default"}
        if current.source == "configuration" and fields:
            raise BadRequestError(
                f"{name!r} comes from configuration.yaml; change it there",
                code=MODEL_READ_ONLY,
            )
        if "api_key_env" in fields:
            raise BadRequestError("api_key_env: name an environment variable in configuration.yaml")
        if fields:
            merged = {
                "base_url": fields.get("base_url", current.base_url),
                "model": fields.get("model", current.model),
                "tier": fields.get("tier", current.tier),
            }
            _check(name=name, api_key_env=None, **merged)
            api_key = current.api_key
            if "api_key" in fields:
                new_key = fields["api_key"]
                api_key = await self._seal(name, new_key) if new_key else None
            current = replace(current, **merged, api_key=api_key)
        changed = current
        make_default = changes.get("is_default")

        def change(state: _Stored) -> _Stored:
            ui = {**state.ui, name: changed} if fields and name in state.ui else state.ui
            default = state.default
            if make_default is True:
                default = name
            elif make_default is False and self._default_of(state) == name:
                default = None
            return _Stored(ui, default)

        await self._state.change(change)  # refused by the disk, the model stays as it was
        if fields:
            await self._drop_client(name)  # its client was made with what it was
        return current

    async def remove(self, name: str) -> None:
        """Remove a UI model and make its key unreadable."""
        current = self.get(name)
        if current.source == "configuration":
            raise BadRequestError(
                f"{name!r} comes from configuration.yaml; remove it there", code=MODEL_READ_ONLY
            )
        # Refused by the disk, the model stays, its key readable.
        await self._state.change(
            lambda state: _Stored(
                {n: m for n, m in state.ui.items() if n != name},
                None if state.default == name else state.default,
            )
        )
        await self._drop_client(name)
        await self._keyring.forget_owner(_owner(name))

    # Using

    def api_key(self, endpoint: ModelEndpoint) -> str | None:
        """The plaintext key for a request: decrypted, or read from its environment variable."""
        if endpoint.api_key is not None:
            return self._keyring.decrypt(_owner(endpoint.name), API_KEY_FIELD, endpoint.api_key)
        if endpoint.api_key_env and endpoint.source == "configuration":
            key = self._env.get(endpoint.api_key_env) or None
            if key is not None:
                SECRETS.add(key)  # masked in every log line, like the keyring's own secrets
            return key
        return None

    def build(self, endpoint: ModelEndpoint) -> Model:
        """A pydantic-ai model for the endpoint (imports pydantic-ai and openai on first use)."""
        from openai import AsyncOpenAI
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        from hub.agent import prices

        prices.install()  # before the first model: it would load genai-prices' whole price list
        client = self._clients.get(endpoint.name)
        if client is None:
            # Local servers ignore the key, but the SDK refuses to start without one.
            client = AsyncOpenAI(
                base_url=endpoint.base_url,
                api_key=self.api_key(endpoint) or "not-needed",
                max_retries=0,
                timeout=self._request_timeout,
            )
            self._clients[endpoint.name] = client
        return OpenAIChatModel(endpoint.model, provider=OpenAIProvider(openai_client=client))

    async def close(self) -> None:
        """Close every endpoint's HTTP client (shutdown)."""
        for name in list(self._clients):
            await self._drop_client(name)

    async def _drop_client(self, name: str) -> None:
        client = self._clients.pop(name, None)
        if client is not None:
            await client.close()

    # Internals

    def _find(self, name: str) -> ModelEndpoint | None:
        return self._configured.get(name) or self._state.value.ui.get(name)

    def _check_free(self, name: str) -> None:
        if name in self._configured or name in self._state.view.ui:
            raise ModelExistsError(f"a model named {name!r} exists already")

    def _all(self, state: _Stored) -> list[ModelEndpoint]:
        return [*self._configured.values(), *state.ui.values()]

    def _default_of(self, state: _Stored) -> str | None:
        for name in (state.default, self._config_default):
            if name is not None and (name in self._configured or name in state.ui):
                return name
        models = self._all(state)
        return models[0].name if models else None

    async def _seal(self, name: str, api_key: str) -> str:
        if not isinstance(api_key, str) or len(api_key) > 4096:
            raise BadRequestError("api_key must be text of at most 4096 characters")
        return await self._keyring.encrypt(_owner(name), API_KEY_FIELD, api_key)


@dataclass(frozen=True, slots=True)
class _Stored:
    """What ``.storage/core.models`` holds: the UI models in the order added, and the default."""

    ui: dict[str, ModelEndpoint]
    default: str | None

    def encode(self) -> dict[str, Any]:
        """The stored form."""
        return {"models": [m.stored() for m in self.ui.values()], "default": self.default}


def _owner(name: str) -> str:
    return f"model:{name}"


def _check(*, name: str, base_url: str, model: str, tier: str, api_key_env: str | None) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise BadRequestError("name: use letters, digits, spaces, '.', '_' or '-' (at most 64)")
    if not isinstance(base_url, str) or not re.match(r"^https?://[^\s/]+", base_url):
        raise BadRequestError(
            "base_url: an http:// or https:// address, e.g. http://127.0.0.1:11434/v1"
        )
    if not isinstance(model, str) or not model.strip() or len(model) > 200:
        raise BadRequestError("model: the model id the server knows, e.g. llama3.1")
    if tier not in TIERS:
        raise BadRequestError(f"tier: one of {', '.join(TIERS)}")
    if api_key_env is not None and (
        not isinstance(api_key_env, str) or not _ENV.match(api_key_env)
    ):
        raise BadRequestError(
            "api_key_env: the name of an environment variable, e.g. OPENAI_API_KEY"
        )
