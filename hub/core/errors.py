"""One exception tree for the hub: each subclass is a failure category with a stable code."""

from __future__ import annotations

from typing import ClassVar, Final

# Stable error codes. Clients (the web UI, scripts) switch on these; never rename one.
CONFIG_INVALID: Final = "config_invalid"
STORAGE_UNREADABLE: Final = "storage_unreadable"
STORAGE_WRITE_FAILED: Final = "storage_write_failed"
MASTER_KEY_INVALID: Final = "master_key_invalid"
MASTER_KEY_MISMATCH: Final = "master_key_mismatch"
MASTER_KEY_MISSING: Final = "master_key_missing"
SECRET_UNDECRYPTABLE: Final = "secret_undecryptable"  # noqa: S105  # a code, not a secret
NOT_FOUND: Final = "not_found"
METHOD_NOT_ALLOWED: Final = "method_not_allowed"
BAD_REQUEST: Final = "bad_request"
INTERNAL_ERROR: Final = "internal_error"
CONFIG_DIR_LOCKED: Final = "config_dir_locked"
PORT_UNAVAILABLE: Final = "port_unavailable"
MANIFEST_INVALID: Final = "manifest_invalid"
FLOW_INVALID: Final = "flow_invalid"
FLOW_STEP_UNKNOWN: Final = "flow_step_unknown"
FLOW_STEP_FAILED: Final = "flow_step_failed"
FLOW_NOT_FOUND: Final = "flow_not_found"
ENTRY_NOT_FOUND: Final = "entry_not_found"
INTEGRATION_NOT_FOUND: Final = "integration_not_found"
INTEGRATION_DISABLED: Final = "integration_disabled"
SCOPE_NOT_ALLOWED: Final = "scope_not_allowed"
UNAUTHORIZED: Final = "unauthorized"
FORBIDDEN: Final = "forbidden"
INVALID_CREDENTIALS: Final = "invalid_credentials"
ONBOARDING_CLOSED: Final = "onboarding_closed"
INVALID_FORMAT: Final = "invalid_format"
ID_REUSE: Final = "id_reuse"
UNKNOWN_COMMAND: Final = "unknown_command"
NO_MODEL: Final = "no_model"
MODEL_NOT_FOUND: Final = "model_not_found"
MODEL_EXISTS: Final = "model_exists"
MODEL_READ_ONLY: Final = "model_read_only"
MODEL_UNAVAILABLE: Final = "model_unavailable"
MODEL_ERROR: Final = "model_error"
CONVERSATION_NOT_FOUND: Final = "conversation_not_found"
RUN_IN_PROGRESS: Final = "run_in_progress"
AGENT_NOT_FOUND: Final = "agent_not_found"
FETCH_REFUSED: Final = "fetch_refused"
FETCH_FAILED: Final = "fetch_failed"
STORAGE_FULL: Final = "storage_full"
STORAGE_READ_ONLY: Final = "storage_read_only"
SYNC_COOLDOWN: Final = "sync_cooldown"
TOO_MANY_ENTRIES: Final = "too_many_entries"
LOCAL_FETCH_ADMIN_ONLY: Final = "local_fetch_admin_only"
TOO_MANY_ATTEMPTS: Final = "too_many_attempts"
TOO_MANY_TOKENS: Final = "too_many_tokens"
CURRENT_PASSWORD_WRONG: Final = "current_password_wrong"  # noqa: S105
PERSON_HAS_ENTRIES: Final = "person_has_entries"
ORIGIN_NOT_ALLOWED: Final = "origin_not_allowed"
TOO_MANY_COMMANDS: Final = "too_many_commands"
STORAGE_UNENCODABLE: Final = "storage_unencodable"
PAYLOAD_TOO_LARGE: Final = "payload_too_large"
UNSUPPORTED_MEDIA_TYPE: Final = "unsupported_media_type"
BODY_TIMEOUT: Final = "body_timeout"


class HubError(Exception):
    """Base of every error the hub raises on purpose; ``str()`` is safe to show a person."""

    code: ClassVar[str] = INTERNAL_ERROR
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code  # type: ignore[misc]  # a per-instance refinement of the class code


class ConfigError(HubError):
    """``configuration.yaml`` (or an environment override) is not valid."""

    code = CONFIG_INVALID
    http_status = 400


class StorageError(HubError):
    """A storage file cannot be read, parsed, migrated or written."""

    code = STORAGE_UNREADABLE
    http_status = 500


class CryptoError(HubError):
    """The master key is missing, malformed or wrong, or a secret does not decrypt."""

    code = MASTER_KEY_INVALID
    http_status = 500


class NotFoundError(HubError):
    """The thing asked for does not exist."""

    code = NOT_FOUND
    http_status = 404


class BadRequestError(HubError):
    """The request body or parameters do not make sense."""

    code = BAD_REQUEST
    http_status = 400


class UnauthorizedError(HubError):
    """No valid access token."""

    code = UNAUTHORIZED
    http_status = 401


class ForbiddenError(HubError):
    """Signed in, but not allowed to do this."""

    code = FORBIDDEN
    http_status = 403
