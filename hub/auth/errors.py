"""What auth refuses: a sign-in, a password change, a token or an account change, and why."""

from __future__ import annotations

from hub.core.errors import (
    CURRENT_PASSWORD_WRONG,
    INVALID_CREDENTIALS,
    LAST_ADMIN,
    ONBOARDING_CLOSED,
    PASSWORD_MISMATCH,
    PASSWORD_TOO_SHORT,
    TOO_MANY_TOKENS,
    HubError,
    error_key,
)


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


class PasswordTooShortError(HubError):
    """A new password is shorter than the hub accepts."""

    code = PASSWORD_TOO_SHORT
    default_key = error_key(PASSWORD_TOO_SHORT)
    http_status = 400

    def __init__(self, min_length: int) -> None:
        super().__init__(f"password: at least {min_length} characters", min_length=min_length)


class PasswordMismatchError(HubError):
    """A new password and its confirmation differ."""

    code = PASSWORD_MISMATCH
    default_key = error_key(PASSWORD_MISMATCH)
    http_status = 400


class LastAdminError(HubError):
    """The change would leave the hub without an admin."""

    code = LAST_ADMIN
    http_status = 400


def check_confirmed(password: str | None, confirmation: str | None) -> None:
    """Refuse a password whose confirmation was given and differs (a typo locks nobody out)."""
    if password is not None and confirmation is not None and password != confirmation:
        raise PasswordMismatchError("password_confirmation: does not match the password")
