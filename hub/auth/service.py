"""People and their tokens: onboarding, throttled login, rotating refresh, revocation, long-lived tokens."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final

from hub.auth.errors import LastAdminError, PasswordTooShortError
from hub.auth.models import Person, TokenPair, TokenRecord
from hub.auth.passwords import hash_password, verify_password
from hub.auth.principal import Principal
from hub.auth.sign_ins import (
    LONG_LIVED_PREFIX,
    MAX_LONG_LIVED,
    MAX_SIGN_INS,
    AuthState,
    TokenIndex,
    digest,
    expired,
    new_sign_in,
    rotate,
)
from hub.auth.throttle import Throttle
from hub.core.committed import Committed
from hub.core.disk import DiskFaultError
from hub.core.errors import (
    CURRENT_PASSWORD_WRONG,
    INVALID_CREDENTIALS,
    ONBOARDING_CLOSED,
    TOO_MANY_TOKENS,
    BadRequestError,
    HubError,
    NotFoundError,
    error_key,
)
from hub.core.storage import StorageManager

_LOGGER = logging.getLogger(__name__)

AUTH_KEY: Final = "auth"
ACCESS_TOKEN_SECONDS: Final = 1800
ACCESS_PREFIX: Final = "hat1"
_USERNAME: Final = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MIN_PASSWORD: Final = 8


class InvalidCredentialsError(HubError):
    """Unknown person or wrong password (never which of the two)."""

    code = INVALID_CREDENTIALS
    http_status = 401


class CurrentPasswordWrongError(HubError):
    """Changing one's own password needs the current one, and this was not it."""

    code = CURRENT_PASSWORD_WRONG
    default_key = error_key(CURRENT_PASSWORD_WRONG)
    http_status = 403


class TooManyTokensError(HubError):
    """A person already holds ``MAX_LONG_LIVED`` named tokens."""

    code = TOO_MANY_TOKENS
    default_key = error_key(TOO_MANY_TOKENS)
    http_status = 409


class OnboardingClosedError(HubError):
    """Onboarding is over: a person exists."""

    code = ONBOARDING_CLOSED
    default_key = error_key(ONBOARDING_CLOSED)
    http_status = 403


class AuthService:
    """Accounts and tokens, persisted in ``.storage/auth``; access tokens are signed per process."""

    def __init__(self, storage: StorageManager) -> None:
        self._saved = Committed(storage.store(AUTH_KEY, 1), AuthState({}, {}), AuthState.encode)
        self._indexed: tuple[AuthState, TokenIndex] | None = None
        # Access tokens are short-lived; a key that dies with the process only means a refresh.
        self._signing_key = secrets.token_bytes(32)
        self._lock = asyncio.Lock()
        self._revoke_listeners: list[Callable[[str], None]] = []
        self._hashing = asyncio.Semaphore(2)
        self.throttle = Throttle()
        self.password_checks = 0
        """Passwords verified since start (sign-ins and current-password checks), for diagnostics."""
        self.max_sign_ins = MAX_SIGN_INS
        self.max_long_lived = MAX_LONG_LIVED

    # Storage

    async def load(self) -> None:
        """Read people and tokens."""
        data = await self._saved.store.load()
        if data is not None:
            self._saved.reset(AuthState.from_json(data, time.time()))

    @property
    def _people(self) -> dict[str, Person]:
        return self._saved.value.people

    @property
    def _tokens(self) -> dict[str, TokenRecord]:
        return self._saved.value.tokens

    @property
    def _index(self) -> TokenIndex:
        """The index of the tokens served, rebuilt once after each change."""
        state = self._saved.value
        if self._indexed is None or self._indexed[0] is not state:
            self._indexed = (state, TokenIndex.of(state.tokens.values()))
        return self._indexed[1]

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

    async def onboard(
        self,
        username: str,
        password: str,
        display_name: str | None = None,
        language: str | None = None,
    ) -> TokenPair:
        """Create the owner (an admin) while nobody exists, and sign them in; closed forever after."""
        async with self._lock:  # two racing browsers: exactly one becomes the owner
            if self._people:
                raise OnboardingClosedError("the hub already has its owner; sign in instead")
            person = await self._new_person(
                username, password, display_name, language, is_admin=True
            )
            state, pair, _ = self._sign_in(
                self._saved.value.with_person(person), person, "onboarding"
            )
            await self._commit(state)
        _LOGGER.info("Onboarding finished: %s is the owner", person.username)
        return pair

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
                _check_password(password)
                async with self._hashing:
                    changes["password_hash"] = await asyncio.to_thread(hash_password, password)
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

    # Tokens

    async def login(self, username: str, password: str, client: str) -> TokenPair:
        """Check the password (throttled per client and per username) and issue tokens."""
        name = username.strip().lower()
        # The slot is reserved before the hash: a second attempt of this address or name is
        # refused (429) while this one is checked, so concurrency buys an attacker nothing.
        with self.throttle.attempt(client, name) as attempt:
            person = next(
                (p for p in self._people.values() if p.username == name and not p.removing), None
            )
            # An unknown name costs the same hash as a known one, so timing does not tell them apart.
            ok = await self._verify(password, person.password_hash if person else None)
            if person is not None and ok:
                attempt.succeeded()
            else:
                attempt.failed()
        if person is None or not ok:
            _LOGGER.warning(
                "Failed login for %r from %s; next attempt waits %.1f s",
                name,
                client,
                attempt.delay,
            )
            await asyncio.sleep(min(attempt.delay, self.throttle.settle))
            raise InvalidCredentialsError(
                "wrong username or password", key=error_key(INVALID_CREDENTIALS)
            )
        async with self._lock:
            state, pair, dropped = self._sign_in(self._saved.value, person, client)
            await self._commit_sign_in(state, name)
        self._announce(dropped)
        return pair

    async def refresh(self, refresh_token: str) -> TokenPair:
        """A new access token and a new refresh token; the one presented stops working.

        Presenting a refresh token that was already traded in means two parties hold this sign-in
        (a stolen copy, as OAuth 2.1 warns): the whole sign-in ends, for both.
        """
        presented = digest(refresh_token)
        async with self._lock:
            record = self._index.by_hash.get(presented)
            if record is None or record.kind != "refresh" or expired(record, time.time()):
                if record is not None and record.kind == "refresh":
                    await self._end_sign_in(record.token_id, replayed=False)
                elif record is None and (replayed := self._index.by_rotated.get(presented)):
                    await self._end_sign_in(replayed, replayed=True)
                raise InvalidCredentialsError("the refresh token is not valid (signed out?)")
            rotated, token = rotate(record, time.time())
            await self._commit_sign_in(self._saved.value.with_token(rotated), record.person_id)
        return TokenPair(self._access_token(rotated), token, ACCESS_TOKEN_SECONDS, record.token_id)

    async def logout(self, principal: Principal) -> None:
        """Revoke the token the caller's access descends from."""
        await self.revoke(principal.token_id)

    async def sign_out_everywhere(self, principal: Principal, *, keep_this: bool) -> int:
        """End every sign-in of the caller (but this one, if asked); how many ended.

        Long-lived tokens stay: they belong to scripts, each revoked on its own. The ended
        sign-ins' sockets close, and their tabs find out at their next refresh.
        """
        keep = principal.token_id if keep_this else None
        async with self._lock:
            revoked = [
                t.token_id
                for t in self.tokens_of(principal.person_id)
                if t.kind == "refresh" and t.token_id != keep
            ]
            if revoked:
                await self._commit(self._saved.value.without_tokens(revoked))
        self._announce(revoked)
        return len(revoked)

    async def create_long_lived(self, principal: Principal, name: str) -> tuple[TokenRecord, str]:
        """A named token for a script; the token is shown once, then only its name and id."""
        token = LONG_LIVED_PREFIX + secrets.token_urlsafe(32)
        async with self._lock:
            held = sum(t.kind == "long_lived" for t in self.tokens_of(principal.person_id))
            if held >= self.max_long_lived:
                raise TooManyTokensError(
                    f"you already have {held} long-lived tokens; revoke one first"
                )
            record = TokenRecord(
                token_id=secrets.token_hex(8),
                person_id=principal.person_id,
                kind="long_lived",
                name=name,
                token_hash=digest(token),
                created_at=time.time(),
            )
            await self._commit(self._saved.value.with_token(record))
        return record, token

    def tokens_of(self, person_id: str) -> list[TokenRecord]:
        """A person's tokens, oldest first."""
        return self._saved.value.tokens_of(person_id)

    def token(self, token_id: str) -> TokenRecord | None:
        """One token record."""
        return self._tokens.get(token_id)

    async def revoke(self, token_id: str) -> None:
        """End a token and every access that descends from it; live sockets are closed."""
        async with self._lock:
            if token_id not in self._tokens:
                raise NotFoundError(f"no token {token_id!r}")
            await self._commit(self._saved.value.without_tokens([token_id]))
        self._announce([token_id])

    def on_revoke(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Be told the id of every revoked token; the result unregisters."""
        self._revoke_listeners.append(callback)
        return lambda: (
            self._revoke_listeners.remove(callback) if callback in self._revoke_listeners else None
        )

    def authenticate(self, bearer: str) -> Principal | None:
        """The caller behind an access token or a long-lived token, or ``None``."""
        if bearer.startswith(LONG_LIVED_PREFIX):
            record = self._index.by_hash.get(digest(bearer))
            if record is None or record.kind != "long_lived":
                return None
            return self._principal(record, None)
        parts = bearer.split(".")
        if len(parts) != 4 or parts[0] != ACCESS_PREFIX:
            return None
        _, token_id, expires, signature = parts
        expected = self._sign(f"{token_id}.{expires}")
        if not hmac.compare_digest(expected, signature):
            return None
        try:
            expires_at = float(expires)
        except ValueError:
            return None
        record = self._tokens.get(token_id)
        if record is None or expires_at < time.time():
            return None
        return self._principal(record, expires_at)

    # Internals

    def _principal(self, record: TokenRecord, expires_at: float | None) -> Principal | None:
        person = self._people.get(record.person_id)
        if person is None or person.removing:
            return None
        return Principal(
            person_id=person.person_id,
            username=person.username,
            display_name=person.display_name,
            is_admin=person.is_admin,
            language=person.language,
            token_id=record.token_id,
            expires_at=expires_at,
        )

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
        _check_password(password)
        async with self._hashing:
            digest = await asyncio.to_thread(hash_password, password)
        return Person(
            person_id=secrets.token_hex(8),
            username=name,
            display_name=(display_name or name).strip()[:100],
            language=language or None,
            is_admin=is_admin,
            password_hash=digest,
            created_at=time.time(),
        )

    def _sign_in(
        self, state: AuthState, person: Person, client: str
    ) -> tuple[AuthState, TokenPair, list[str]]:
        """A new sign-in, and the ids of the sign-ins it pushed out (expired, or past the cap)."""
        state, record, token, dropped = new_sign_in(
            state, person, client, limit=self.max_sign_ins, now=time.time()
        )
        pair = TokenPair(self._access_token(record), token, ACCESS_TOKEN_SECONDS, record.token_id)
        return state, pair, dropped

    async def _commit_sign_in(self, state: AuthState, name: str) -> None:
        """Save a sign-in or a refresh; on a refusing disk it lives in memory until the disk is back."""
        try:
            await self._commit(state)
        except DiskFaultError as err:
            # Signing in must work on a full or read-only disk, or nobody could see what the hub
            # says about it: the sign-in is served from memory (a restart ends it) and saved by
            # the store's retry once the disk takes writes again.
            self._saved.change_soon(lambda _: state)
            _LOGGER.warning("The sign-in of %s is kept in memory only: %s", name, err.message)

    async def _end_sign_in(self, token_id: str, *, replayed: bool) -> None:
        """End a sign-in whose refresh token expired or was replayed (called under the lock)."""
        record = self._tokens.get(token_id)
        if record is None:
            return
        if replayed:
            _LOGGER.warning(
                "A used refresh token of %s was presented again: that sign-in is ended",
                self._people[record.person_id].username
                if record.person_id in self._people
                else "?",
            )
        await self._commit_sign_in(self._saved.value.without_tokens([token_id]), record.person_id)
        self._announce([token_id])

    async def _check_current(self, person: Person, password: str | None, client: str) -> None:
        """The current password, checked like a login (throttled), before a new one is set."""
        if not password:
            raise BadRequestError("current_password: needed to change your own password")
        with self.throttle.attempt(client, person.username) as attempt:
            ok = await self._verify(password, person.password_hash)
            if ok:
                attempt.succeeded()
            else:
                attempt.failed()
        if not ok:
            _LOGGER.warning("Wrong current password for %r from %s", person.username, client)
            await asyncio.sleep(min(attempt.delay, self.throttle.settle))
            raise CurrentPasswordWrongError("current_password: that is not your current password")

    async def _verify(self, password: str, stored: str | None) -> bool:
        """Check a password (``None``: against a dummy hash, costing the same), two at a time."""
        async with self._hashing:  # each check holds 19 MiB: a ceiling on memory too
            self.password_checks += 1
            against = stored if stored is not None else await asyncio.to_thread(_dummy_hash)
            return await asyncio.to_thread(verify_password, password, against)

    def _access_token(self, record: TokenRecord) -> str:
        expires = str(int(time.time()) + ACCESS_TOKEN_SECONDS)
        return f"{ACCESS_PREFIX}.{record.token_id}.{expires}.{self._sign(f'{record.token_id}.{expires}')}"

    def _sign(self, payload: str) -> str:
        digest = hmac.new(self._signing_key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def _announce(self, token_ids: list[str]) -> None:
        for token_id in token_ids:
            for listener in list(self._revoke_listeners):
                try:
                    listener(token_id)
                except Exception:  # one listener's bug never keeps a token alive
                    _LOGGER.exception("A revocation listener failed")

    def _admins(self) -> int:
        return sum(p.is_admin and not p.removing for p in self._people.values())


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise PasswordTooShortError(MIN_PASSWORD)
    if len(password) > 1024:
        raise BadRequestError("password: at most 1024 characters")


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))
