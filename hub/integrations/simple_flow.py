"""``SimpleConfigFlow``: one form, field checks, an optional connection test, then the entry."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, Final

from hub.core.redact import SECRETS
from hub.integrations.config_flow import (
    BASE_ERROR,
    STEP_RECONFIGURE,
    STEP_USER,
    ConfigFlow,
    FlowDefinitionError,
    FlowResult,
    is_key,
    is_shown,
)
from hub.integrations.manifest import FieldDescriptor

_LOGGER = logging.getLogger(__name__)

REQUIRED: Final = "required"
INVALID_NUMBER: Final = "invalid_number"
INVALID_OPTION: Final = "invalid_option"
CONNECTION_FAILED: Final = "connection_failed"

_URL_NAMES: Final = frozenset({"url", "site"})
# Keys and tokens never carry surrounding blanks, but a pasted one often does; a password may
# legitimately begin or end with a space, so it is left exactly as typed.
_STRIPPED_TYPES: Final = frozenset({"text", "secret"})


class SimpleConfigFlow(ConfigFlow):
    """A single-form flow: set ``SCHEMA`` and override only the hooks that differ."""

    SCHEMA: ClassVar[Sequence[FieldDescriptor]] = ()
    TITLE_FIELD: ClassVar[str] = ""
    """The field whose value titles the entry; empty, or a secret field, means the domain name."""
    ENTRY_FIELDS: ClassVar[Sequence[str]] = ()
    """The fields stored in the entry; empty means every field that takes a value."""
    VALIDATE_TIMEOUT: ClassVar[float] = 15.0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names: set[str] = set()
        for index, item in enumerate(cls.SCHEMA):
            if not isinstance(item, FieldDescriptor):
                raise FlowDefinitionError(
                    f"{cls.__qualname__}.SCHEMA[{index}] is not a FieldDescriptor"
                )
            if item.name in names:
                raise FlowDefinitionError(f"{cls.__qualname__}.SCHEMA has two {item.name!r} fields")
            names.add(item.name)
        if isinstance(cls.ENTRY_FIELDS, str):
            raise FlowDefinitionError(f"{cls.__qualname__}.ENTRY_FIELDS must be a list of names")
        if not cls.VALIDATE_TIMEOUT > 0:
            raise FlowDefinitionError(f"{cls.__qualname__}.VALIDATE_TIMEOUT must be positive")

    # The steps

    async def async_step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        """Show the form, or check a submission and create the entry."""
        return await self._async_step_form(STEP_USER, user_input)

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None) -> FlowResult:
        """The same form, pre-filled from the entry being edited (secrets excepted)."""
        return await self._async_step_form(STEP_RECONFIGURE, user_input)

    # The hooks

    def preprocess(self, user_input: dict[str, Any]) -> dict[str, Any]:
        """Normalise raw input: strip text, drop trailing ``/`` from URLs, turn numbers into numbers."""
        data = dict(user_input)
        for item in self._value_fields():
            if item.name not in data:
                continue
            value = data[item.name]
            if item.type in _STRIPPED_TYPES and isinstance(value, str):
                value = value.strip()
                if _is_url_name(item.name):
                    value = value.rstrip("/")
            elif item.type == "number":
                value = _coerce_number(value)
            data[item.name] = value
        return data

    def validate_fields(self, data: dict[str, Any]) -> dict[str, str]:
        """Field-level checks of the fields shown: missing, non-numeric and unknown-option values."""
        errors: dict[str, str] = {}
        for item in self._value_fields():
            if not is_shown(item, data):
                continue  # hidden from the person by its show_when rule: nothing to check
            value = data.get(item.name)
            if _is_empty(value):
                if item.required:
                    errors[item.name] = REQUIRED
            elif item.type == "number" and not _is_number(value):
                errors[item.name] = INVALID_NUMBER
            elif item.type == "select" and not _is_option(item, value):
                errors[item.name] = INVALID_OPTION
        return errors

    async def validate(self, data: dict[str, Any]) -> str | None:
        """The connection test: an error key, or ``None`` when the input works."""
        return None

    def entry_title(self, data: dict[str, Any]) -> str:
        """The entry's title: the ``TITLE_FIELD`` value, else the domain name."""
        item = self._field(self.TITLE_FIELD)
        # A title is shown and stored in plain text, so a secret never becomes one.
        if self.TITLE_FIELD and not (item is not None and item.is_secret):
            value = data.get(self.TITLE_FIELD)
            if not _is_empty(value):
                return str(value)
        return self.domain

    def entry_data(self, data: dict[str, Any]) -> dict[str, Any]:
        """The entry's data: the ``ENTRY_FIELDS`` (every value field by default) that have a value."""
        names = self.ENTRY_FIELDS or [item.name for item in self._value_fields()]
        return {name: data[name] for name in names if name in data}

    # The machinery

    async def _async_step_form(self, step_id: str, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self._form(step_id, self._collected)
        data = self.preprocess(self._merged(user_input))
        errors = self.validate_fields(data)
        if errors:
            return self._form(step_id, data, errors)
        key = await self._async_run_validate(data)
        if key is not None:
            return self._form(step_id, data, {BASE_ERROR: key})
        return self.async_create_entry(title=self.entry_title(data), data=self.entry_data(data))

    def _merged(self, user_input: dict[str, Any]) -> dict[str, Any]:
        # On reconfigure the manager preloads the entry into _collected, so a field left out of the
        # submission (a secret the person did not retype) keeps its value; an explicit "" clears it.
        merged: dict[str, Any] = {}
        for item in self._value_fields():
            if item.name in user_input:
                merged[item.name] = user_input[item.name]
            elif item.name in self._collected:
                merged[item.name] = self._collected[item.name]
            elif item.default is not None:
                merged[item.name] = item.default
        return merged

    async def _async_run_validate(self, data: dict[str, Any]) -> str | None:
        timeout = asyncio.timeout(self.VALIDATE_TIMEOUT)
        secrets = [data.get(item.name) for item in self.SCHEMA if item.is_secret]
        # Registered while outside code runs, so whatever it logs (an httpx request line with a
        # key in the query, say) reaches the log masked.
        with _masked(secrets):
            try:
                async with timeout:
                    key = await self.validate(data)
            except Exception as exc:  # noqa: BLE001  # logged below, without the message
                if timeout.expired():
                    _LOGGER.error(
                        "%s: validate() timed out after %ss", self.domain, self.VALIDATE_TIMEOUT
                    )
                else:
                    self._log_failure("validate()", exc)
                return CONNECTION_FAILED
        if key is None:
            return None
        if not is_key(key):
            _LOGGER.error(
                "%s: validate() returned %s, which is not an error key", self.domain, type(key)
            )
            return CONNECTION_FAILED
        return key

    def _form(
        self, step_id: str, values: dict[str, Any], errors: dict[str, str] | None = None
    ) -> FlowResult:
        return self.async_show_form(
            step_id=step_id, data_schema=self._prefilled(values), errors=errors
        )

    def _prefilled(self, values: dict[str, Any]) -> list[FieldDescriptor]:
        # The form is JSON the person's browser sees: a secret's value is never sent back out.
        schema: list[FieldDescriptor] = []
        for item in self.SCHEMA:
            value = values.get(item.name)
            if item.is_secret or item.type == "note" or value is None:
                schema.append(item)
            else:
                schema.append(item.model_copy(update={"default": value}))
        return schema

    def _value_fields(self) -> list[FieldDescriptor]:
        return [item for item in self.SCHEMA if item.type != "note"]

    def _field(self, name: str) -> FieldDescriptor | None:
        return next((item for item in self.SCHEMA if item.name == name), None)


@contextmanager
def _masked(values: Iterable[object]) -> Iterator[None]:
    added = [value for value in values if isinstance(value, str) and value]
    for value in added:
        SECRETS.add(value)
    try:
        yield
    finally:
        for value in added:
            SECRETS.discard(value)


def _is_url_name(name: str) -> bool:
    return name in _URL_NAMES or name.endswith("_url")


def _is_empty(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | tuple | dict) and not value


def _is_number(value: object) -> bool:
    # bool is an int, but a toggle's True is not a number someone typed.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def _coerce_number(value: object) -> object:
    """``"3"``, ``3.0`` → ``3``; ``"2.5"`` → ``2.5``; ``""`` → ``None``; anything else unchanged."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return int(text)  # before float, so a long integer keeps every digit
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return value  # validate_fields reports it as invalid_number
    elif isinstance(value, float):
        number = value
    else:
        return value
    if not math.isfinite(number):
        return value
    return int(number) if number.is_integer() else number


def _is_option(item: FieldDescriptor, value: object) -> bool:
    allowed = [option.value for option in item.options or ()]
    if item.multiple:
        return isinstance(value, list | tuple) and all(v in allowed for v in value)
    return value in allowed
