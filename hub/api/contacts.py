"""Contacts over HTTP: the caller's own and the household's; list, create, edit, merge, delete."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hub.api.access import principal_of, require_admin
from hub.api.request import read_json
from hub.api.state import COMMS
from hub.auth.principal import Principal
from hub.comms.contacts import (
    MAX_ADDRESSES,
    Address,
    Contact,
    ContactNotFoundError,
    Contacts,
)
from hub.core.errors import BadRequestError, ForbiddenError


class AddressBody(BaseModel):
    """One address: the channel (an integration's domain, e.g. ``email``) and the address on it."""

    model_config = ConfigDict(extra="forbid")

    channel: str = Field(min_length=1, max_length=64)
    address: str = Field(min_length=1, max_length=320)

    def value(self) -> Address:
        """As the service takes it."""
        return Address(self.channel, self.address)


class NewContact(BaseModel):
    """``POST /api/contacts``; ``household`` (admins only) makes it the household's."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200)
    addresses: list[AddressBody] = Field(default_factory=list, max_length=MAX_ADDRESSES)
    household: bool = False


class ContactEdit(BaseModel):
    """``PATCH /api/contacts/{id}``; ``addresses`` replaces the whole set."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    addresses: list[AddressBody] | None = Field(default=None, max_length=MAX_ADDRESSES)


class MergeBody(BaseModel):
    """``POST /api/contacts/{id}/merge``: the contact merged into this one (and deleted)."""

    model_config = ConfigDict(extra="forbid")

    other: int


def _contacts(request: web.Request) -> Contacts:
    return request.app[COMMS].contacts


def _view(principal: Principal, contact: Contact) -> dict[str, object]:
    return contact.public(
        may_manage=Contacts.may_manage(contact, principal.person_id, is_admin=principal.is_admin)
    )


async def _visible(request: web.Request, raw: object) -> Contact:
    """The contact if the caller may see it; any other id (or not a number) is a 404."""
    text = str(raw)
    if not text.isdigit() or len(text) > 18:
        raise ContactNotFoundError(f"no contact {text[:40]!r}")
    return await _contacts(request).get(int(text), principal_of(request).person_id)


async def _managed(request: web.Request, raw: object) -> Contact:
    contact = await _visible(request, raw)
    principal = principal_of(request)
    if not Contacts.may_manage(contact, principal.person_id, is_admin=principal.is_admin):
        raise ForbiddenError(
            "only the contact's person (an admin, for a household contact) may change it",
            key="errors.contact_manage_forbidden",
        )
    return contact


async def list_contacts(request: web.Request) -> web.Response:
    """The caller's contacts and the household's."""
    principal = principal_of(request)
    found = await _contacts(request).of_person(principal.person_id)
    return web.json_response({"contacts": [_view(principal, c) for c in found]})


async def create_contact(request: web.Request) -> web.Response:
    """A contact by hand; 201."""
    body = await read_json(request, NewContact)
    principal = principal_of(request)
    if body.household:
        require_admin(principal)
    contact = await _contacts(request).create(
        None if body.household else principal.person_id,
        body.name,
        [a.value() for a in body.addresses],
    )
    return web.json_response(_view(principal, contact), status=201)


async def get_contact(request: web.Request) -> web.Response:
    """One contact."""
    contact = await _visible(request, request.match_info["contact_id"])
    return web.json_response(_view(principal_of(request), contact))


async def edit_contact(request: web.Request) -> web.Response:
    """Rename a contact or replace its addresses."""
    body = await read_json(request, ContactEdit)
    if body.name is None and body.addresses is None:
        raise BadRequestError("say what to change: name or addresses")
    contact = await _managed(request, request.match_info["contact_id"])
    changed = await _contacts(request).edit(
        contact,
        name=body.name,
        addresses=None if body.addresses is None else [a.value() for a in body.addresses],
    )
    return web.json_response(_view(principal_of(request), changed))


async def merge_contact(request: web.Request) -> web.Response:
    """Merge ``other`` into this contact: its addresses and messages move here, it is deleted."""
    body = await read_json(request, MergeBody)
    keep = await _managed(request, request.match_info["contact_id"])
    other = await _managed(request, body.other)
    merged = await _contacts(request).merge(keep, other)
    return web.json_response(_view(principal_of(request), merged))


async def delete_contact(request: web.Request) -> web.Response:
    """Delete a contact; its messages stay, unlinked."""
    contact = await _managed(request, request.match_info["contact_id"])
    await _contacts(request).delete(contact)
    return web.json_response({"id": contact.id, "deleted": True})


def register(app: web.Application) -> None:
    """Add the contact routes."""
    app.router.add_get("/api/contacts", list_contacts)
    app.router.add_post("/api/contacts", create_contact)
    app.router.add_get("/api/contacts/{contact_id}", get_contact)
    app.router.add_patch("/api/contacts/{contact_id}", edit_contact)
    app.router.add_delete("/api/contacts/{contact_id}", delete_contact)
    app.router.add_post("/api/contacts/{contact_id}/merge", merge_contact)
