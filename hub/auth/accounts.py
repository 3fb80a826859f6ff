"""People's accounts in ``.storage/auth``: who exists, adding, changing and removing them."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final

from hub.auth.errors import CurrentPasswordWrongError, LastAdminError
from hub.auth.models import Person
from hub.auth.password_checks import PasswordChecks, check_password
from hub.auth.principal import Principal
from hub.auth.sign_ins import AuthState
from hub.auth.throttle import Throttle
from hub.core.committed import Committed
from hub.core.errors import BadRequestError, NotFoundError
from hub.core.storage import StorageManager

_LOGGER = logging.getLogger(__name__)

AUTH_KEY: Final = "auth"
_USERNAME: Final = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class Accounts:
    """People, persisted with their tokens in ``.storage/auth``; a change that ends sign-ins says so."""

    def __init__(self, storage: StorageManager) -> None:
        self._saved = Committed(storage.store(AUTH_KEY, 1), AuthState({}, {}), AuthState.encode)
        self._lock = asyncio.Lock()
        self._revoke_listeners: list[Callable[[str], None]] = []
        self._passwords = PasswordChecks()
        self.throttle = Throttle()

    @property
    def password_checks(self) -> int:
        """Passwords verified since start (sign-ins and current-password checks), for diagnostics."""
        return self._passwords.count

    # Storage

    async def load(self) -> None:
        """Read people and tokens."""
        data = await self._saved.store.load()
        if data is not None:
            self._saved.reset(AuthState.from_json(data, time.time()))

    @property
    def _people(self) -> dict[str, Person]:
        return self._saved.value.people

    async def _commit(self, state: AuthState) -> None:
        """Serve ``state`` once it is on disk; refused, memory is as it was (called under the lock)."""
        # Every change is made under the lock from the state served, so the next state is whole.
        await self._saved.change(lambda _: state)

    # People

    @property
    def onboarding_open(self) -> bool:
        """True until the first person exists."""
        return not self._people

    def people(self) -> list[Person]:
        """Every person, oldest first."""
        return sorted(self._people.values(), key=lambda p: p.created_at)

    def person(self, person_id: str) -> Person:
        """One person, or a 404."""
        person = self._people.get(person_id)
        if person is None:
            raise NotFoundError(f"no person {person_id!r}")
        return person

    async def create_person(
        self,
        username: str,
        password: str,
        *,
        display_name: str | None = None,
        language: str | None = None,
        is_admin: bool = False,
    ) -> Person:
        """Add an account."""
        async with self._lock:
            person = await self._new_person(
                username, password, display_name, language, is_admin=is_admin
            )
            await self._commit(self._saved.value.with_person(person))
        return person

    async def update_person(
        self,
        person_id: str,
        *,
        display_name: str | None = None,
        language: str | None = None,
        is_admin: bool | None = None,
        password: str | None = None,
        current_password: str | None = None,
        by: Principal | None = None,
        client: str = "unknown",
    ) -> Person:
        """Change an account; a new password signs the person out everywhere else.

        A person changing their own password (``by`` is them) must give the current one, checked
        under the login throttle; an admin resetting someone else's needs none.
        """
        own = by is not None and by.person_id == person_id
        if password is not None and own:
            await self._check_current(self.person(person_id), current_password, client)
        async with self._lock:
            person = self.person(person_id)
            changes: dict[str, Any] = {}
            if display_name is not None:
                changes["display_name"] = display_name.strip()[:100] or person.username
            if language is not None:
                changes["language"] = language or None
            if is_admin is not None:
                if not is_admin and person.is_admin and self._admins() == 1:
                    raise LastAdminError(
                        "the last admin cannot stop being one", key="errors.last_admin"
                    )
                changes["is_admin"] = is_admin
            if password is not None:
                check_password(password)
                changes["password_hash"] = await self._passwords.hash(password)
            state = self._saved.value.with_person(replace(person, **changes))
            # A new password, or losing admin rights, ends every sign-in: open sockets included;
            # only the one a person changed their own password from goes on.
            demoted = person.is_admin and is_admin is False
            keep = by.token_id if own and by is not None and not demoted else None
            revoked = state.held_by(person_id, keep=keep) if password is not None or demoted else []
            await self._commit(state.without_tokens(revoked))
        self._announce(revoked)
        return self._people[person_id]

    def check_removable(self, person_id: str) -> Person:
        """The person, unless removing them would leave the hub without an admin."""
        person = self.person(person_id)
        if person.is_admin and not person.removing and self._admins() == 1:
            raise LastAdminError("the last admin cannot be removed", key="errors.last_admin_remove")
        return person

    async def begin_removal(self, person_id: str) -> None:
        """Sign a person out everywhere and keep them out while what is theirs is removed."""
        async with self._lock:
            person = self.check_removable(person_id)
            state = self._saved.value.with_person(replace(person, removing=True))
            revoked = state.held_by(person_id)
            await self._commit(state.without_tokens(revoked))
        self._announce(revoked)

    async def finish_removal(self, person_id: str) -> None:
        """Remove the account itself, once what was theirs is gone."""
        async with self._lock:
            self.person(person_id)
            revoked = self._saved.value.held_by(person_id)
            await self._commit(self._saved.value.without_person(person_id))
        self._announce(revoked)

    async def delete_person(self, person_id: str) -> None:
        """Remove an account that holds nothing else, and every token it holds."""
        await self.begin_removal(person_id)
        await self.finish_removal(person_id)

    # Revocations

    def on_revoke(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Be told the id of every revoked token; the result unregisters."""
        self._revoke_listeners.append(callback)
        return lambda: (
            self._revoke_listeners.remove(callback) if callback in self._revoke_listeners else None
        )

    def _announce(self, token_ids: list[str]) -> None:
        for token_id in token_ids:
            for listener in list(self._revoke_listeners):
                try:
                    listener(token_id)
                except Exception:  # one listener's bug never keeps a token alive
                    _LOGGER.exception("A revocation listener failed")

    # Internals

    async def _new_person(
        self,
        username: str,
        password: str,
        display_name: str | None,
        language: str | None,
        *,
        is_admin: bool,
    ) -> Person:
        name = username.strip().lower()
        if not _USERNAME.match(name):
            raise BadRequestError("username: 1 to 64 letters, digits, '.', '_' or '-'")
        if any(p.username == name for p in self._people.values()):
            raise BadRequestError(f"username: {name!r} is taken")
        check_password(password)
        digest = await self._passwords.hash(password)
        return Person(
            person_id=secrets.token_hex(8),
            username=name,
            display_name=(display_name or name).strip()[:100],
            language=language or None,
            is_admin=is_admin,
            password_hash=digest,
            created_at=time.time(),
        )

    async def _check_current(self, person: Person, password: str | None, client: str) -> None:
        """The current password, checked like a login (throttled), before a new one is set."""
        if not password:
            raise BadRequestError("current_password: needed to change your own password")
        with self.throttle.attempt(client, person.username) as attempt:
            ok = await self._passwords.verify(password, person.password_hash)
            if ok:
                attempt.succeeded()
            else:
                attempt.failed()
        if not ok:
            _LOGGER.warning("Wrong current password for %r from %s", person.username, client)
            await asyncio.sleep(min(attempt.delay, self.throttle.settle))
            raise CurrentPasswordWrongError("current_password: that is not your current password")

    def _admins(self) -> int:
        return sum(p.is_admin and not p.removing for p in self._people.values())
