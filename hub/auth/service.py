"""Signing in and tokens: onboarding, throttled login, rotating refresh, revocation, long-lived tokens."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time

from hub.auth.access_tokens import AccessTokens
from hub.auth.accounts import Accounts
from hub.auth.errors import InvalidCredentialsError, OnboardingClosedError, TooManyTokensError
from hub.auth.models import Person, TokenPair, TokenRecord
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
from hub.core.disk import DiskFaultError
from hub.core.errors import INVALID_CREDENTIALS, NotFoundError, error_key
from hub.core.storage import StorageManager

_LOGGER = logging.getLogger(__name__)


class AuthService(Accounts):
    """Accounts and tokens, persisted in ``.storage/auth``; access tokens are signed per process."""

    def __init__(self, storage: StorageManager) -> None:
        super().__init__(storage)
        self._indexed: tuple[AuthState, TokenIndex] | None = None
        self._access = AccessTokens()
        self.max_sign_ins = MAX_SIGN_INS
        self.max_long_lived = MAX_LONG_LIVED

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
            ok = await self._passwords.verify(password, person.password_hash if person else None)
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
        return self._access.pair(rotated, token)

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

    def authenticate(self, bearer: str) -> Principal | None:
        """The caller behind an access token or a long-lived token, or ``None``."""
        if bearer.startswith(LONG_LIVED_PREFIX):
            record = self._index.by_hash.get(digest(bearer))
            if record is None or record.kind != "long_lived":
                return None
            return self._principal(record, None)
        access = self._access.read(bearer)
        if access is None:
            return None
        token_id, expires_at = access
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

    def _sign_in(
        self, state: AuthState, person: Person, client: str
    ) -> tuple[AuthState, TokenPair, list[str]]:
        """A new sign-in, and the ids of the sign-ins it pushed out (expired, or past the cap)."""
        state, record, token, dropped = new_sign_in(
            state, person, client, limit=self.max_sign_ins, now=time.time()
        )
        return state, self._access.pair(record, token), dropped

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
