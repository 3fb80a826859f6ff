"""The webhook form: a name, the sender's preset, its signing secret and, if wanted, a mapping.

A secret the hub makes is shown once, on a second page, and the person pastes it back: that
proves it was copied, and the flow never has to carry the plain secret between steps (only its
SHA-256, which reveals nothing of 24 random bytes).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, ClassVar, Final

from hub.integrations.config_flow import STEP_RECONFIGURE, STEP_USER, FlowResult
from hub.integrations.manifest import FieldDescriptor, SelectOption
from hub.integrations.simple_flow import SimpleConfigFlow

from .mapping import MAPPING_FIELDS, MappingError, compile_mapping
from .presets import PRESET_INFO, PRESETS, new_secret, preset_of

STEP_SECRET: Final = "secret"  # noqa: S105  # a step id, not a password
SECRET: Final = "secret"  # noqa: S105  # a field name
NEW_SECRET: Final = "new_secret"  # noqa: S105  # a field name
_DIGEST: Final = "secret_digest"

SIGNED: Final = tuple(p for p in PRESETS if p != "hub")
_Rule = dict[str, tuple[str | int | float | bool, ...]]
_SIGNED_RULE: Final[_Rule] = {"preset": SIGNED}
_CUSTOM_RULE: Final[_Rule] = {"preset": ("custom",)}
CUSTOM_FIELDS: Final = (
    "signature_header",
    "signature_prefix",
    "signature_encoding",
    "delivery_id_header",
    "event_header",
)


def _text(name: str, rule: _Rule, **extra: Any) -> FieldDescriptor:
    return FieldDescriptor(
        name=name,
        label=f"field.{name}.label",
        description=f"field.{name}.description",
        required=False,
        show_when=rule,
        **extra,
    )


_NAME: Final = FieldDescriptor(
    name="name",
    label="field.name.label",
    placeholder="field.name.placeholder",
    description="field.name.description",
)
_PRESET: Final = FieldDescriptor(
    name="preset",
    label="field.preset.label",
    description="field.preset.description",
    type="select",
    options=tuple(SelectOption(value=p, label=f"field.preset.{p}") for p in PRESETS),
    default="hub",
)
_SECRET: Final = _text(SECRET, _SIGNED_RULE, type="secret")
_NEW_SECRET: Final = _text(NEW_SECRET, _SIGNED_RULE, type="bool", default=False)
_CUSTOM: Final = (
    _text("signature_header", _CUSTOM_RULE, placeholder="X-Signature"),
    _text("signature_prefix", _CUSTOM_RULE, placeholder="sha256="),
    FieldDescriptor(
        name="signature_encoding",
        label="field.signature_encoding.label",
        description="field.signature_encoding.description",
        type="select",
        options=(
            SelectOption(value="hex", label="field.signature_encoding.hex"),
            SelectOption(value="base64", label="field.signature_encoding.base64"),
        ),
        default="hex",
        required=False,
        show_when=_CUSTOM_RULE,
    ),
    _text("delivery_id_header", _CUSTOM_RULE, placeholder="X-Delivery-Id"),
    _text("event_header", _CUSTOM_RULE, placeholder="X-Event"),
)
_MAPPING: Final = tuple(
    _text(name, _SIGNED_RULE, multiline=name == "entity_attributes") for name in MAPPING_FIELDS
)


class WebhookConfigFlow(SimpleConfigFlow):
    """Name and preset; a signed preset adds its secret, custom its headers, any a mapping."""

    domain = "webhook"
    TITLE_FIELD = "name"
    SCHEMA: ClassVar[list[FieldDescriptor]] = [_NAME, _PRESET, _SECRET, *_CUSTOM, *_MAPPING]
    RECONFIGURE_SCHEMA: ClassVar[list[FieldDescriptor]] = [
        _NAME,
        _PRESET,
        _SECRET,
        _NEW_SECRET,
        *_CUSTOM,
        *_MAPPING,
    ]

    async def async_step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        """The one form; a secret the hub makes adds the page that shows it."""
        return await self._step(STEP_USER, self.SCHEMA, user_input)

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None) -> FlowResult:
        """The same form, plus "make a new secret"; a secret left empty stays as it is."""
        return await self._step(STEP_RECONFIGURE, self.RECONFIGURE_SCHEMA, user_input)

    async def async_step_secret(self, user_input: dict[str, Any] | None) -> FlowResult:
        """The made secret, shown once; pasting it back proves it was copied."""
        if user_input is None:  # the page was reloaded: the secret is not shown a second time
            return self._new_secret_form()
        pasted = str(user_input.get(SECRET) or "").strip()
        digest = str(self._collected.get(_DIGEST) or "")
        if not hmac.compare_digest(_digest(pasted), digest):
            return self._new_secret_form({SECRET: "secret_mismatch"})
        data = self.preprocess(self._merged_from_collected())
        return self._finish({**data, SECRET: pasted})

    # The hooks

    def validate_fields(self, data: dict[str, Any]) -> dict[str, str]:
        """The generic checks, then the custom scheme's header and the mapping's expressions."""
        errors = super().validate_fields(data)
        preset = preset_of(data)
        if preset == "hub":
            return errors
        if preset == "stripe" and not data.get(SECRET) and not errors:
            errors[SECRET] = "secret_from_sender"  # Stripe makes it; the hub cannot
        if preset == "custom":
            if not data.get("signature_header"):
                errors["signature_header"] = "required"
            if not any(data.get(name) for name in ("entity_id", "event_type")) and not (
                data.get("event_header")
            ):
                errors.setdefault("entity_id", "mapping_empty")
        try:
            compile_mapping(PRESET_INFO[preset].mapping.merged(data))
        except MappingError as err:
            errors.setdefault(err.field, err.key)
        return errors

    def entry_data(self, data: dict[str, Any]) -> dict[str, Any]:
        """The fields that mean something for the chosen preset (``new_secret`` is never kept)."""
        kept = super().entry_data(data)
        kept.pop(NEW_SECRET, None)
        preset = preset_of(kept)
        if preset == "hub":
            return {key: kept[key] for key in ("name", "preset") if key in kept}
        if preset != "custom":
            for name in CUSTOM_FIELDS:
                kept.pop(name, None)
        return kept

    # The machinery

    async def _step(
        self, step_id: str, schema: list[FieldDescriptor], user_input: dict[str, Any] | None
    ) -> FlowResult:
        if user_input is None:
            return self._show(step_id, schema, self._collected)
        data = self.preprocess(self._merged(user_input))
        data[NEW_SECRET] = user_input.get(NEW_SECRET) is True
        errors = self.validate_fields(data)
        if errors:
            return self._show(step_id, schema, data, errors)
        preset = preset_of(data)
        wants_new = bool(data.get(NEW_SECRET)) or not data.get(SECRET)
        if preset != "hub" and PRESET_INFO[preset].generates_secret and wants_new:
            return self._new_secret_form()
        return self._finish(data)

    def _new_secret_form(self, errors: dict[str, str] | None = None) -> FlowResult:
        # A fresh secret every time the page is drawn: the one shown before is gone for good.
        secret = new_secret()
        self._collected[_DIGEST] = _digest(secret)
        field = FieldDescriptor(
            name=SECRET,
            label="field.secret_copy.label",
            description="field.secret_copy.description",
            type="secret",
        )
        return self.async_show_form(
            step_id=STEP_SECRET,
            data_schema=[field],
            errors=errors,
            description_placeholders={"secret": secret},
        )

    def _merged_from_collected(self) -> dict[str, Any]:
        fields = self.RECONFIGURE_SCHEMA if self._is_reconfigure() else self.SCHEMA
        return {
            item.name: self._collected[item.name] for item in fields if item.name in self._collected
        }

    def _is_reconfigure(self) -> bool:
        return getattr(self.context, "entry_id", None) is not None

    def _finish(self, data: dict[str, Any]) -> FlowResult:
        return self.async_create_entry(title=self.entry_title(data), data=self.entry_data(data))

    def _show(
        self,
        step_id: str,
        schema: list[FieldDescriptor],
        values: dict[str, Any],
        errors: dict[str, str] | None = None,
    ) -> FlowResult:
        shown: list[FieldDescriptor] = []
        for item in schema:
            value = values.get(item.name)
            if item.is_secret or value is None or item.name == NEW_SECRET:
                shown.append(item)
            else:
                shown.append(item.model_copy(update={"default": value}))
        return self.async_show_form(step_id=step_id, data_schema=shown, errors=errors)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
