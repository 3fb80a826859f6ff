"""Config flows: a pure state machine whose ``async_step_<id>`` methods return a ``FlowResult``.

A step answers one of four results: a form (``async_show_form``) whose submission goes back to
the step that showed it; a menu (``async_show_menu``), a choice between next steps that the person
makes by submitting ``{"next_step_id": <option>}``, after which the chosen ``async_step_<option>``
runs with ``None`` (as Home Assistant's menu steps do; the option labels are the translation keys
``step.<step_id>.menu_options.<option>``); an entry (``async_create_entry``); or an abort
(``async_abort``).
"""

from __future__ import annotations

import inspect
import logging
import math
import re
import secrets
import traceback
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from hub.core.errors import FLOW_INVALID, FLOW_STEP_FAILED, FLOW_STEP_UNKNOWN, HubError
from hub.integrations.manifest import FieldDescriptor

if TYPE_CHECKING:
    from hub.integrations.location import HomeLocation

_LOGGER = logging.getLogger(__name__)


STEP_PREFIX: Final = "async_step_"
STEP_USER: Final = "user"
STEP_RECONFIGURE: Final = "reconfigure"
NEXT_STEP_ID: Final = "next_step_id"
"""The one input a menu step takes: the option the person chose."""
BASE_ERROR: Final = "base"
"""The ``errors`` key for a failure that belongs to the whole form rather than one field."""
STEP_REAUTH: Final = "reauth"
REASON_UNKNOWN_ERROR: Final = "unknown_error"
"""The abort reason when a step raises: the person learns that it failed, never how."""

SOURCE_USER: Final = "user"
SOURCE_RECONFIGURE: Final = "reconfigure"
SOURCE_REAUTH: Final = "reauth"

SCOPE_USER: Final = "user"
SCOPE_GLOBAL: Final = "global"

# A step id becomes part of a method name; an error key or reason becomes a translation key.
_STEP_ID: Final = re.compile(r"^[a-z][a-z0-9_]*$")
_KEY: Final = re.compile(r"^[a-z][a-z0-9_-]*$")
_PLACEHOLDER: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class FlowError(HubError):
    """Base of the config-flow errors; each is a bug in a flow or its driver, never the person's."""

    code = FLOW_INVALID
    http_status = 500


class FlowDefinitionError(FlowError):
    """A flow passed a helper something it cannot use (an unknown step, a stray error key, ...)."""


class UnknownStepError(FlowError):
    """The flow has no ``async_step_<step_id>`` method."""

    code = FLOW_STEP_UNKNOWN

    def __init__(self, domain: str, step_id: str) -> None:
        super().__init__(f"config flow {domain!r} has no step {step_id!r}")
        self.domain = domain
        self.step_id = step_id


class StepFailedError(FlowError):
    """A step raised or returned garbage; logged with ``correlation_id``, which the person is shown."""

    code = FLOW_STEP_FAILED

    def __init__(self, domain: str, step_id: str, correlation_id: str) -> None:
        super().__init__(
            f"config flow {domain!r} failed in step {step_id!r} (correlation id {correlation_id})"
        )
        self.step_id = step_id
        self.correlation_id = correlation_id


class FlowResultType(StrEnum):
    """What a step decided: show a form or a menu, create the entry, or end the flow."""

    FORM = "form"
    CREATE_ENTRY = "create_entry"
    ABORT = "abort"
    MENU = "menu"


@dataclass(frozen=True, slots=True)
class FlowContext:
    """Who and what a flow is for; the manager builds one per step.

    ``scope`` is ``"user"`` or ``"global"``: one hub serves one household, so the specification's
    ``org`` and ``group`` scopes collapse onto ``global`` before a context is built. It stays a
    ``str`` so that specification code comparing it with those names still type-checks.
    ``scope_ref`` (``user:<sub>`` or ``global``) is derived when not given.
    """

    domain: str
    scope: str = SCOPE_USER
    owner_sub: str | None = None
    org_id: str | None = None
    entry_id: str | None = None
    """Set only when reconfiguring an existing entry."""
    scope_ref: str = ""
    source: str = SOURCE_USER
    """Why the flow runs: ``user`` (a new entry), ``reconfigure`` or ``reauth`` (an existing one)."""

    def __post_init__(self) -> None:
        if self.scope == SCOPE_USER and not self.owner_sub:
            raise ValueError("a user-scoped flow needs owner_sub")
        if not self.scope_ref:
            ref = f"user:{self.owner_sub}" if self.scope == SCOPE_USER else SCOPE_GLOBAL
            object.__setattr__(self, "scope_ref", ref)  # frozen: the one place it is derived

    @property
    def is_reconfigure(self) -> bool:
        """True when the flow edits the existing entry ``entry_id``."""
        return self.entry_id is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowResult:
    """One step's outcome; build it with ``form``, ``create_entry`` or ``abort``, which check it."""

    type: FlowResultType
    flow_id: str | None = None
    step_id: str | None = None
    title: str | None = None
    # Entry data carries secrets in plain text until the manager encrypts them: keep it out of repr.
    data: Mapping[str, Any] = field(default_factory=dict, repr=False)
    reason: str | None = None
    errors: Mapping[str, str] = field(default_factory=dict)
    data_schema: tuple[FieldDescriptor, ...] = ()
    description_placeholders: Mapping[str, str] = field(default_factory=dict)
    menu_options: tuple[str, ...] = ()
    """A menu's choices: each the id of the step that runs when it is chosen."""

    @classmethod
    def form(
        cls,
        *,
        step_id: str,
        data_schema: Iterable[FieldDescriptor],
        errors: Mapping[str, str] | None = None,
        description_placeholders: Mapping[str, str | int | float] | None = None,
    ) -> FlowResult:
        """A form for ``step_id``; raises ``FlowDefinitionError`` on arguments no UI could render."""
        _check_step_id(step_id)
        schema = _check_schema(data_schema)
        return cls(
            type=FlowResultType.FORM,
            step_id=step_id,
            data_schema=schema,
            errors=_check_errors(errors, {f.name for f in schema}),
            description_placeholders=_check_placeholders(description_placeholders),
        )

    @classmethod
    def menu(
        cls,
        *,
        step_id: str,
        menu_options: Iterable[str],
        errors: Mapping[str, str] | None = None,
        description_placeholders: Mapping[str, str | int | float] | None = None,
    ) -> FlowResult:
        """A choice between the steps ``menu_options``; raises ``FlowDefinitionError`` on bad ids.

        ``errors`` may hold only ``base``: why the choice is asked (``{"base": "timeout"}``).
        """
        _check_step_id(step_id)
        if isinstance(menu_options, str | bytes | Mapping):
            raise FlowDefinitionError("menu_options must be a list of step ids")
        options = tuple(menu_options)
        if not options:
            raise FlowDefinitionError("a menu needs at least one option")
        for option in options:
            _check_step_id(option)
        if len(set(options)) != len(options):
            raise FlowDefinitionError("a menu lists an option twice")
        return cls(
            type=FlowResultType.MENU,
            step_id=step_id,
            menu_options=options,
            errors=_check_errors(errors, set()),
            description_placeholders=_check_placeholders(description_placeholders),
        )

    @classmethod
    def create_entry(cls, *, title: str, data: Mapping[str, Any]) -> FlowResult:
        """Finish with an entry; ``data`` must be JSON-shaped because the entry is stored as JSON."""
        if not isinstance(title, str) or not title.strip():
            raise FlowDefinitionError("an entry needs a non-empty title string")
        if not isinstance(data, Mapping):
            raise FlowDefinitionError(f"entry data must be a mapping, not {type(data).__name__}")
        _check_json(data, "data")
        return cls(type=FlowResultType.CREATE_ENTRY, title=title, data=dict(data))

    @classmethod
    def abort(cls, *, reason: str) -> FlowResult:
        """End the flow; ``reason`` is a key the UI translates."""
        _check_key(reason, "an abort reason")
        return cls(type=FlowResultType.ABORT, reason=reason)

    @property
    def secret_fields(self) -> frozenset[str]:
        """Names of this form's ``password`` and ``secret`` fields: the values to keep encrypted."""
        return frozenset(f.name for f in self.data_schema if f.is_secret)

    @property
    def value_fields(self) -> tuple[str, ...]:
        """Names of this form's fields that take input (a ``note`` only displays)."""
        return tuple(f.name for f in self.data_schema if f.type != "note")

    def with_flow_id(self, flow_id: str) -> FlowResult:
        """This result stamped with the id the manager allocated."""
        return replace(self, flow_id=flow_id)


_StepHandler = Callable[[dict[str, Any] | None], Awaitable[object]]


class ConfigFlow(ABC):
    """Base of every integration's setup wizard; the manager re-creates it for each step."""

    domain: str = ""
    VERSION: int = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A sync step or a step name no step_id can reach fails at import, where the loader
        # reports it, rather than in front of the person halfway through the wizard.
        for name in vars(cls):
            if not name.startswith(STEP_PREFIX):
                continue
            if not _STEP_ID.match(name.removeprefix(STEP_PREFIX)):
                raise FlowDefinitionError(f"{cls.__qualname__}.{name}: not a valid step name")
            if not inspect.iscoroutinefunction(getattr(cls, name)):
                raise FlowDefinitionError(f"{cls.__qualname__}.{name} must be an async def")

    def __init__(self, context: FlowContext) -> None:
        """Bind the flow to ``context``; the manager then sets ``_collected`` and ``home_source``."""
        self.context = context
        self._collected: dict[str, Any] = {}  # plaintext input accumulated across steps
        self.home_source: Callable[[], HomeLocation | None] = lambda: None
        if not self.domain:
            self.domain = context.domain

    def home_location(self) -> HomeLocation | None:
        """The hub's home location as it is now; ``None`` until an admin sets it."""
        return self.home_source()

    @abstractmethod
    async def async_step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        """The first step: ``None`` asks for the empty form, a dict is the person's submission."""

    # Driving a flow (the manager's side)

    @classmethod
    def has_step(cls, step_id: str) -> bool:
        """True when the flow defines ``async_step_<step_id>``."""
        return _STEP_ID.match(step_id) is not None and callable(
            getattr(cls, STEP_PREFIX + step_id, None)
        )

    @classmethod
    def first_step(cls, context: FlowContext) -> str:
        """The first step: ``reauth`` or ``reconfigure`` when editing and defined, else ``user``."""
        if context.source == SOURCE_REAUTH and cls.has_step(STEP_REAUTH):
            return STEP_REAUTH
        if context.is_reconfigure and cls.has_step(STEP_RECONFIGURE):
            return STEP_RECONFIGURE
        return STEP_USER

    async def async_handle_step(
        self, step_id: str, user_input: Mapping[str, Any] | None
    ) -> FlowResult:
        """Run ``async_step_<step_id>``; a step that raises is logged and raises ``StepFailedError``.

        The log line and the error carry the same correlation id, so the driver can show the form
        again with a base error and the id a person can report. ``UnknownStepError`` means there is
        no such step.
        """
        if not self.has_step(step_id):
            raise UnknownStepError(self.domain, step_id)
        handler: _StepHandler = getattr(self, STEP_PREFIX + step_id)
        try:
            # A copy, so a step that edits its input cannot change what the manager records.
            result = await handler(None if user_input is None else dict(user_input))
        except Exception as exc:  # noqa: BLE001  # logged by _log_failure, without the message
            correlation_id = secrets.token_hex(4)
            self._log_failure(f"step {step_id!r}", exc, correlation_id)
            raise StepFailedError(self.domain, step_id, correlation_id) from None
        if not isinstance(result, FlowResult):
            correlation_id = secrets.token_hex(4)
            _LOGGER.error(
                "%s: step %r returned %s instead of a FlowResult [correlation id %s]",
                self.domain,
                step_id,
                type(result).__name__,
                correlation_id,
            )
            raise StepFailedError(self.domain, step_id, correlation_id)
        return result

    # Helpers for steps (the integration author's side)

    def async_show_form(
        self,
        *,
        step_id: str,
        data_schema: Iterable[FieldDescriptor],
        errors: Mapping[str, str] | None = None,
        description_placeholders: Mapping[str, str | int | float] | None = None,
    ) -> FlowResult:
        """Show ``data_schema``; the next submission goes to ``async_step_<step_id>``."""
        _check_step_id(step_id)
        if not self.has_step(step_id):
            raise FlowDefinitionError(
                f"{type(self).__qualname__} shows a form for step {step_id!r} "
                f"but has no {STEP_PREFIX}{step_id} to receive it"
            )
        return FlowResult.form(
            step_id=step_id,
            data_schema=data_schema,
            errors=errors,
            description_placeholders=description_placeholders,
        )

    def async_show_menu(
        self,
        *,
        step_id: str,
        menu_options: Iterable[str],
        errors: Mapping[str, str] | None = None,
        description_placeholders: Mapping[str, str | int | float] | None = None,
    ) -> FlowResult:
        """Offer a choice of next steps; the chosen ``async_step_<option>`` then runs with ``None``."""
        result = FlowResult.menu(
            step_id=step_id,
            menu_options=menu_options,
            errors=errors,
            description_placeholders=description_placeholders,
        )
        missing = [option for option in result.menu_options if not self.has_step(option)]
        if missing:
            raise FlowDefinitionError(
                f"{type(self).__qualname__} offers {', '.join(missing)} in a menu "
                f"but has no {STEP_PREFIX}{missing[0]} to run"
            )
        return result

    def async_create_entry(self, *, title: str, data: Mapping[str, Any]) -> FlowResult:
        """Finish the flow with a config entry named ``title`` holding ``data``."""
        return FlowResult.create_entry(title=title, data=data)

    def async_abort(self, *, reason: str) -> FlowResult:
        """End the flow without an entry; ``reason`` is a translation key."""
        return FlowResult.abort(reason=reason)

    def _log_failure(self, what: str, exc: BaseException, correlation_id: str = "-") -> None:
        # An exception's message can carry a URL with credentials or an echoed key, so log its type
        # and where it was raised; the hub's own errors are written to be safe, so theirs is kept.
        detail = f": {exc}" if isinstance(exc, HubError) else " (message withheld)"
        frames = "".join(traceback.format_tb(exc.__traceback__)).rstrip()
        _LOGGER.error(
            "%s: %s raised %s%s [correlation id %s]\nTraceback (most recent call last):\n%s",
            self.domain,
            what,
            _type_name(exc),
            detail,
            correlation_id,
            frames,
        )


def is_shown(item: FieldDescriptor, values: Mapping[str, Any]) -> bool:
    """Whether ``item`` applies to a form holding ``values`` (its ``show_when`` rule, if any)."""
    rule = item.show_when or {}
    return all(values.get(name) in allowed for name, allowed in rule.items())


def is_key(value: object) -> bool:
    """True for a translation key usable as an error key or abort reason (``auth_failed``)."""
    return isinstance(value, str) and _KEY.match(value) is not None


def _type_name(exc: BaseException) -> str:
    kind = type(exc)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def _check_key(value: object, what: str) -> None:
    if not is_key(value):
        raise FlowDefinitionError(
            f"{what} must be a key like 'auth_failed' (a-z, 0-9, _ and -), not {value!r}"
        )


def _check_step_id(step_id: object) -> None:
    if not isinstance(step_id, str) or not _STEP_ID.match(step_id):
        raise FlowDefinitionError(f"step_id must be a-z, 0-9 and _, not {step_id!r}")


def _check_schema(data_schema: Iterable[FieldDescriptor]) -> tuple[FieldDescriptor, ...]:
    if isinstance(data_schema, str | bytes | Mapping):
        raise FlowDefinitionError("data_schema must be a list of FieldDescriptor")
    schema = tuple(data_schema)
    names: set[str] = set()
    for index, item in enumerate(schema):
        if not isinstance(item, FieldDescriptor):
            raise FlowDefinitionError(
                f"data_schema[{index}] is a {type(item).__name__}, not a FieldDescriptor"
            )
        if item.name in names:
            raise FlowDefinitionError(f"data_schema has two fields named {item.name!r}")
        names.add(item.name)
    for item in schema:
        unknown = sorted(set(item.show_when or ()) - names)
        if unknown:
            raise FlowDefinitionError(
                f"field {item.name!r} is shown when {unknown[0]!r} has a value, "
                "but the form has no such field"
            )
    return schema


def _check_errors(errors: Mapping[str, str] | None, names: set[str]) -> dict[str, str]:
    if errors is None:
        return {}
    if not isinstance(errors, Mapping):
        raise FlowDefinitionError(f"errors must be a mapping, not {type(errors).__name__}")
    for name, key in errors.items():
        if name != BASE_ERROR and name not in names:
            raise FlowDefinitionError(
                f"errors names {name!r}, which is neither a field of this form nor {BASE_ERROR!r}"
            )
        _check_key(key, f"the error for {name!r}")
    return dict(errors)


def _check_placeholders(
    placeholders: Mapping[str, str | int | float] | None,
) -> dict[str, str]:
    if placeholders is None:
        return {}
    if not isinstance(placeholders, Mapping):
        raise FlowDefinitionError("description_placeholders must be a mapping")
    checked: dict[str, str] = {}
    for name, value in placeholders.items():
        if not isinstance(name, str) or not _PLACEHOLDER.match(name):
            raise FlowDefinitionError(f"{name!r} is not a placeholder name")
        # bool is an int, but "True" inside a sentence is never what the author meant.
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise FlowDefinitionError(
                f"placeholder {name!r} must be a string or a number, not {type(value).__name__}"
            )
        checked[name] = str(value)
    return checked


def _check_json(value: object, path: str) -> None:
    # Messages name the path and the type, never the value: entry data holds secrets.
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FlowDefinitionError(f"entry {path} is not a finite number")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_json(item, f"{path}[{index}]")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise FlowDefinitionError(f"entry {path} has a {type(key).__name__} key")
            _check_json(item, f"{path}.{key}")
        return
    raise FlowDefinitionError(
        f"entry {path} is a {type(value).__name__}; use str, numbers, bool, None, lists and dicts"
    )
