"""The specification's Signal flow: the number, then a QR code to link the hub as a device.

Step ``user`` asks for the number and the bridge's address; a number the bridge already has is
added at once, any other gets the ``link`` step: a note showing the bridge's QR code. Each
submission of ``link`` asks the bridge again and either adds the entry or shows a fresh code
(a scanned code that expired meanwhile needs a fresh one anyway).
"""

from __future__ import annotations

from typing import Any

from hub.integrations.config_flow import ConfigFlow, FlowResult
from hub.integrations.manifest import FieldDescriptor

from .client import SignalError, linked_numbers, qrcode_link
from .providers import DEFAULT_BASE

USER_SCHEMA = [
    FieldDescriptor(
        name="number",
        label="field.number.label",
        type="text",
        placeholder="field.number.placeholder",
        description="field.number.description",
    ),
    FieldDescriptor(
        name="base_url",
        label="field.base_url.label",
        type="text",
        required=False,
        default=DEFAULT_BASE,
        description="field.base_url.description",
    ),
]


def _qr_form(self: ConfigFlow, qr: str | None, label: str, error: str | None) -> FlowResult:
    fields = [FieldDescriptor(name="qr", label=label, type="note", required=False, image=qr)]
    return self.async_show_form(
        step_id="link", data_schema=fields, errors={"base": error} if error else None
    )


def _number(value: object) -> str:
    # Spaces are how people write numbers; the bridge lists them without.
    return str(value or "").strip().replace(" ", "")


def _base_url(value: object) -> str:
    return str(value or DEFAULT_BASE).strip().rstrip("/")


class SignalConfigFlow(ConfigFlow):
    """Number → QR link → entry, as the specification's multi-step example."""

    domain = "signal"

    async def async_step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        """The number and the bridge; linked already: the entry; else the QR code."""
        if user_input is None:
            return self.async_show_form(step_id="user", data_schema=USER_SCHEMA)
        number = _number(user_input.get("number"))
        base_url = _base_url(user_input.get("base_url"))
        if not number.startswith("+") or not number[1:].isdigit():
            return self.async_show_form(
                step_id="user", data_schema=USER_SCHEMA, errors={"number": "invalid_number"}
            )
        if not base_url.startswith(("http://", "https://")):
            return self.async_show_form(
                step_id="user", data_schema=USER_SCHEMA, errors={"base_url": "invalid_url"}
            )
        try:
            nums = await linked_numbers(base_url)
        except SignalError:
            return self.async_show_form(
                step_id="user", data_schema=USER_SCHEMA, errors={"base": "unreachable"}
            )
        if number in nums:  # already linked → done
            return self.async_create_entry(
                title=number, data={"number": number, "base_url": base_url}
            )
        try:
            qr = await qrcode_link(base_url)
        except SignalError:
            return self.async_show_form(
                step_id="user", data_schema=USER_SCHEMA, errors={"base": "unreachable"}
            )
        return _qr_form(self, qr, "link.instructions", None)  # advance to the "link" step

    async def async_step_link(self, user_input: dict[str, Any] | None) -> FlowResult:
        """Linked now: the entry; not yet: a fresh code and ``not_linked`` (or ``unreachable``)."""
        # Values from the "user" step are on self._collected.
        number = _number(self._collected.get("number"))
        base_url = _base_url(self._collected.get("base_url"))
        error = "not_linked"
        try:
            nums = await linked_numbers(base_url)
        except SignalError:
            nums, error = [], "unreachable"  # the person is told the bridge, not the phone, failed
        if number in nums:
            return self.async_create_entry(
                title=number, data={"number": number, "base_url": base_url}
            )
        try:
            qr = await qrcode_link(base_url)  # re-issue a fresh QR
        except SignalError:
            qr, error = None, "unreachable"
        return _qr_form(self, qr, f"link.{error}", error)
