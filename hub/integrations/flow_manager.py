"""The flow manager: starts, advances and aborts config flows, and turns their results into entries."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from hub.core.errors import (
    INTEGRATION_DISABLED,
    INTEGRATION_NOT_FOUND,
    SCOPE_NOT_ALLOWED,
    BadRequestError,
    HubError,
    NotFoundError,
)
from hub.integrations.catalog import SCOPES, IntegrationCatalog
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.config_flow import (
    BASE_ERROR,
    NEXT_STEP_ID,
    SCOPE_GLOBAL,
    SOURCE_REAUTH,
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigFlow,
    FlowContext,
    FlowResult,
    FlowResultType,
    StepFailedError,
    UnknownStepError,
)
from hub.integrations.entry import ConfigEntry, EntryNotFoundError
from hub.integrations.flow_serializer import mask_password
from hub.integrations.flow_store import FlowNotFoundError, FlowState, FlowStore
from hub.integrations.loader import LoadedIntegration
from hub.integrations.registry import IntegrationRegistry

_LOGGER = logging.getLogger(__name__)

ERROR_UNKNOWN: Final = "unknown"
ABORT_ALREADY_CONFIGURED: Final = "already_configured"
ABORT_ENTRY_NOT_FOUND: Final = "entry_not_found"


class IntegrationNotFoundError(NotFoundError):
    """No loaded integration with that domain."""

    code = INTEGRATION_NOT_FOUND


class IntegrationDisabledError(HubError):
    """An admin disabled the integration in the catalog."""

    code = INTEGRATION_DISABLED
    http_status = 403


class ScopeNotAllowedError(HubError):
    """The catalog does not allow entries of the integration in that scope."""

    code = SCOPE_NOT_ALLOWED
    http_status = 403


@dataclass(frozen=True, slots=True)
class FlowOutcome:
    """One step's result with what a serializer needs to show it."""

    result: FlowResult
    flow_id: str
    domain: str
    language: str
    entry_id: str | None = None
    masked: Mapping[str, str] = field(default_factory=dict)
    correlation_id: str | None = None


class FlowManager:
    """Drives config flows through the in-process store; every step answers, none raises to a person."""

    def __init__(
        self,
        registry: IntegrationRegistry,
        catalog: IntegrationCatalog,
        entries: ConfigEntries,
        store: FlowStore,
    ) -> None:
        self._registry = registry
        self._catalog = catalog
        self._entries = entries
        self._store = store

    @property
    def store(self) -> FlowStore:
        """The in-process store of flows in progress."""
        return self._store

    async def start(
        self,
        domain: str,
        *,
        scope: str = SCOPE_GLOBAL,
        owner: str | None = None,
        language: str = "en",
        by: str | None = None,
    ) -> FlowOutcome:
        """Begin adding an entry of ``domain``; a zero-step integration gets its entry at once."""
        loaded = self._integration(domain)
        self._check_catalog(domain, scope)
        owner = owner if scope != SCOPE_GLOBAL else None
        if scope not in SCOPES:
            raise BadRequestError(f"unknown scope {scope!r}; use {', '.join(SCOPES)}")
        if scope != SCOPE_GLOBAL and owner is None:
            raise BadRequestError("a user-scoped entry needs a signed-in person")
        self._entries.check_room(owner)  # before the person types credentials for nothing
        flow_id = self._store.new_id()
        if loaded.manifest.single_instance and any(
            e.scope == scope and e.owner == owner for e in self._entries.entries(domain)
        ):
            return FlowOutcome(
                FlowResult.abort(reason=ABORT_ALREADY_CONFIGURED), flow_id, domain, language
            )
        flow_cls = loaded.integration.config_flow_cls
        if not loaded.manifest.config_flow or flow_cls is None:
            entry = await self._entries.create(
                domain=domain,
                title=loaded.manifest.name,
                scope=scope,
                owner=owner,
                data={},
                secrets={},
                version=loaded.manifest.config_schema_version,
            )
            result = FlowResult.create_entry(title=entry.title, data={})
            return FlowOutcome(result, flow_id, domain, language, entry_id=entry.entry_id)
        context = FlowContext(domain=domain, scope=scope, owner_sub=owner, source=SOURCE_USER)
        state = FlowState(flow_id, context, flow_cls.first_step(context), language, started_by=by)
        return await self._step(state, flow_cls, None)

    async def start_for_entry(
        self,
        entry_id: str,
        *,
        source: str,
        owner: str | None = None,
        language: str = "en",
        by: str | None = None,
    ) -> FlowOutcome:
        """Begin reconfiguring (``source="reconfigure"``) or reauthenticating an existing entry."""
        if source not in (SOURCE_RECONFIGURE, SOURCE_REAUTH):
            raise BadRequestError(f"unknown flow source {source!r}")
        entry = self._entries.require(entry_id)
        loaded = self._integration(entry.domain)
        flow_cls = loaded.integration.config_flow_cls
        if flow_cls is None:
            raise BadRequestError(f"{entry.domain} has nothing to configure")
        context = FlowContext(
            domain=entry.domain,
            scope=entry.scope,
            owner_sub=entry.owner or owner,
            entry_id=entry_id,
            source=source,
        )
        state = FlowState(
            self._store.new_id(), context, flow_cls.first_step(context), language, started_by=by
        )
        state.collected = dict(entry.data)
        stored = self._entries.secrets_of(entry)
        state.secret_fields = set(stored)
        self._store.seal(state, stored)
        state.masked = {name: mask_password(value) for name, value in stored.items()}
        return await self._step(state, flow_cls, None)

    async def advance(
        self,
        flow_id: str,
        user_input: Mapping[str, Any],
        *,
        language: str | None = None,
        by: str | None = None,
    ) -> FlowOutcome:
        """Submit the current form; answers the next form, the entry, or an abort."""
        state = self._owned(flow_id, by)
        if language:
            state.language = language
        loaded = self._integration(state.context.domain)
        flow_cls = loaded.integration.config_flow_cls
        if flow_cls is None:
            self._store.pop(flow_id)
            raise IntegrationNotFoundError(f"{state.context.domain} no longer has a config flow")
        return await self._step(state, flow_cls, dict(user_input))

    def abort(self, flow_id: str, *, by: str | None = None) -> None:
        """Drop a flow; its secrets go with it."""
        self._owned(flow_id, by)
        self._store.pop(flow_id)

    def _owned(self, flow_id: str, by: str | None) -> FlowState:
        state = self._store.get(flow_id)
        if state.started_by is not None and state.started_by != by:
            # Someone else's flow answers exactly like a missing one: no oracle for flow ids.
            raise FlowNotFoundError(
                f"no config flow {flow_id!r}: it finished, expired or never began"
            )
        return state

    # Internals

    async def _step(
        self, state: FlowState, flow_cls: type[ConfigFlow], user_input: dict[str, Any] | None
    ) -> FlowOutcome:
        if user_input is not None and _is_menu(state.last_form):
            # A menu's answer picks the next step, which then runs as if shown for the first time.
            state.step_id = self._chosen(state, user_input)
            user_input = None
        elif user_input is not None:
            self._record_input(state, user_input)
        flow = flow_cls(state.context)
        flow._collected = {**state.collected, **self._store.unseal(state)}
        flow.home_source = self._entries.home_source
        before = dict(flow._collected)
        try:
            result = await flow.async_handle_step(state.step_id, user_input)
        except (StepFailedError, UnknownStepError) as err:
            correlation_id = getattr(err, "correlation_id", None) or secrets.token_hex(4)
            if isinstance(err, UnknownStepError):
                _LOGGER.error("%s [correlation id %s]", err.message, correlation_id)
            return self._failed(state, correlation_id)
        self._record_derived(state, flow._collected, before)
        if result.type in (FlowResultType.FORM, FlowResultType.MENU):
            assert result.step_id is not None
            state.step_id = result.step_id
            state.secret_fields |= result.secret_fields
            state.last_form = result
            self._store.put(state)
            return self._outcome(state, result)
        if result.type is FlowResultType.ABORT:
            self._store.discard(state.flow_id)
            return self._outcome(state, result)
        outcome = await self._finish(state, result)  # a failed save keeps the flow to resubmit
        self._store.discard(state.flow_id)
        return outcome

    def _record_input(self, state: FlowState, user_input: dict[str, Any]) -> None:
        form = state.last_form
        allowed = set(form.value_fields) if form is not None else set(user_input)
        unknown = sorted(set(user_input) - allowed)
        if unknown:
            raise BadRequestError(
                f"unknown field(s) {', '.join(unknown)} for step {state.step_id!r}"
            )
        for name in list(user_input):
            value = user_input[name]
            _check_json_value(name, value)
            if name in state.secret_fields:
                self._store.seal(state, {name: "" if value is None else str(value)})
            else:
                state.collected[name] = value

    def _chosen(self, state: FlowState, user_input: dict[str, Any]) -> str:
        menu = state.last_form
        options = menu.menu_options if menu is not None else ()
        choice = user_input.get(NEXT_STEP_ID)
        if set(user_input) != {NEXT_STEP_ID} or choice not in options:
            raise BadRequestError(
                f"{NEXT_STEP_ID}: choose one of {', '.join(options)}",
                key="errors.flow_menu_choice",
                options=", ".join(options),
            )
        assert isinstance(choice, str)
        return choice

    def _record_derived(
        self, state: FlowState, collected: Mapping[str, Any], before: Mapping[str, Any]
    ) -> None:
        # A step may stash derived non-secret values (an account id read back from the service).
        for name, value in collected.items():
            if name in state.secret_fields or before.get(name, _MISSING) == value:
                continue
            try:
                json.dumps(value)
            except TypeError:
                continue
            state.collected[name] = value

    def _failed(self, state: FlowState, correlation_id: str) -> FlowOutcome:
        form = state.last_form
        if form is None:  # the first step failed: there is no form to show again
            self._store.discard(state.flow_id)
            result = FlowResult.abort(reason=ERROR_UNKNOWN)
            return self._outcome(state, result, correlation_id=correlation_id)
        if _is_menu(form):
            # The chosen step failed: the same choice again, with the reference for the log.
            self._store.put(state)
            return self._outcome(state, form, correlation_id=correlation_id)
        result = FlowResult.form(
            step_id=form.step_id or state.step_id,
            data_schema=form.data_schema,
            errors={BASE_ERROR: ERROR_UNKNOWN},
            description_placeholders=form.description_placeholders,
        )
        state.step_id = result.step_id or state.step_id
        self._store.put(state)
        return self._outcome(state, result, correlation_id=correlation_id)

    async def _finish(self, state: FlowState, result: FlowResult) -> FlowOutcome:
        context = state.context
        data = {k: v for k, v in result.data.items() if k not in state.secret_fields}
        secret_values = {
            k: "" if v is None else str(v)
            for k, v in result.data.items()
            if k in state.secret_fields
        }
        title = result.title or context.domain
        loaded = self._integration(context.domain)
        if context.entry_id is None:
            entry = await self._entries.create(
                domain=context.domain,
                title=title,
                scope=context.scope,
                owner=context.owner_sub if context.scope != SCOPE_GLOBAL else None,
                data=data,
                secrets=secret_values,
                version=loaded.manifest.config_schema_version,
            )
            return self._outcome(state, result, entry_id=entry.entry_id)
        try:
            entry = self._entries.require(context.entry_id)
        except EntryNotFoundError:
            return self._outcome(state, FlowResult.abort(reason=ABORT_ENTRY_NOT_FOUND))
        # Omitted secrets are preserved; an empty one clears; a non-empty one replaces.
        changes = {
            name: value for name, value in secret_values.items() if _changed(entry, name, value)
        }
        await self._entries.update(entry.entry_id, title=title, data=data, secret_changes=changes)
        return self._outcome(state, result, entry_id=entry.entry_id)

    def _outcome(
        self,
        state: FlowState,
        result: FlowResult,
        *,
        entry_id: str | None = None,
        correlation_id: str | None = None,
    ) -> FlowOutcome:
        return FlowOutcome(
            result=result,
            flow_id=state.flow_id,
            domain=state.context.domain,
            language=state.language,
            entry_id=entry_id or state.context.entry_id,
            masked=state.masked,
            correlation_id=correlation_id,
        )

    def _integration(self, domain: str) -> LoadedIntegration:
        loaded = self._registry.get(domain)
        if loaded is None:
            skipped = self._registry.skipped_domain(domain)
            why = f" ({skipped.reason}: {skipped.message})" if skipped else ""
            raise IntegrationNotFoundError(f"no integration {domain!r} is loaded{why}")
        return loaded

    def _check_catalog(self, domain: str, scope: str) -> None:
        row = self._catalog.get(domain)
        if row is None:
            return
        if not row.enabled:
            raise IntegrationDisabledError(f"an admin disabled the integration {domain!r}")
        if scope not in row.allowed_scopes:
            allowed = ", ".join(row.allowed_scopes) or "none"
            raise ScopeNotAllowedError(
                f"{domain!r} may not be set up in scope {scope!r} ({allowed})"
            )


_MISSING: Final = object()


def _is_menu(result: FlowResult | None) -> bool:
    return result is not None and result.type is FlowResultType.MENU


def _changed(entry: ConfigEntry, name: str, value: str) -> bool:
    return value != "" or name in entry.secrets


def _check_json_value(name: str, value: Any) -> None:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise BadRequestError(f"field {name!r}: not a JSON value") from None
