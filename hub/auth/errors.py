"""What an account change can be refused for: a short or unconfirmed password, the last admin."""

from __future__ import annotations

from hub.core.errors import (
    LAST_ADMIN,
    PASSWORD_MISMATCH,
    PASSWORD_TOO_SHORT,
    HubError,
    error_key,
)


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
