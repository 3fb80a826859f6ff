"""One exception tree for the hub, and every error code a client can receive.

Each error carries a stable ``code``, a translation key (``errors.<code>`` unless the raise site
names a more specific one) and named ``params`` for its placeholders; the wording lives in
``hub/translations/<lang>.json``, and the English ``message`` is the log text and the fallback.
"""

from __future__ import annotations

from typing import ClassVar, Final

Param = str | int | float
"""A value for a placeholder of an error's sentence: never a secret, as with the message."""

ERROR_KEY_PREFIX: Final = "errors."
"""Where an error's sentences live in the hub's translation files."""

# Stable error codes. Clients (the web UI, scripts) switch on these; never rename one. Every code
# a client can receive is defined here and nowhere else (a test guards it), with a sentence under
# ``errors.<code>`` in every language the hub ships.
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
SCAFFOLD_REFUSED: Final = "scaffold_refused"
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
PASSWORD_TOO_SHORT: Final = "password_too_short"  # noqa: S105
PASSWORD_MISMATCH: Final = "password_mismatch"  # noqa: S105
LAST_ADMIN: Final = "last_admin"
LANGUAGE_UNKNOWN: Final = "language_unknown"
PERSON_HAS_ENTRIES: Final = "person_has_entries"
ORIGIN_NOT_ALLOWED: Final = "origin_not_allowed"
TOO_MANY_COMMANDS: Final = "too_many_commands"
STORAGE_UNENCODABLE: Final = "storage_unencodable"
PAYLOAD_TOO_LARGE: Final = "payload_too_large"
UNSUPPORTED_MEDIA_TYPE: Final = "unsupported_media_type"
BODY_TIMEOUT: Final = "body_timeout"
SURFACE_NOT_FOUND: Final = "surface_not_found"
ENTITY_NOT_FOUND: Final = "entity_not_found"
ENTRY_NOT_LOADED: Final = "entry_not_loaded"
ACTION_NOT_DECLARED: Final = "action_not_declared"
ACTION_REJECTED: Final = "action_rejected"
ACTION_FAILED: Final = "action_failed"
RATE_LIMITED: Final = "rate_limited"
SIGNATURE_INVALID: Final = "signature_invalid"
WEBHOOK_PAYLOAD_INVALID: Final = "webhook_payload_invalid"
WEBHOOK_FAILED: Final = "webhook_failed"
WEBHOOK_PREVIEW_UNSUPPORTED: Final = "webhook_preview_unsupported"
NO_DELIVERIES: Final = "no_deliveries"
DELIVERY_NOT_FOUND: Final = "delivery_not_found"
DELIVERY_TRUNCATED: Final = "delivery_truncated"
REQUEST_TIMEOUT: Final = "request_timeout"
ENTRY_NEEDS_REAUTH: Final = "entry_needs_reauth"
ENTRY_NOT_READY: Final = "entry_not_ready"
INTEGRATION_TIMEOUT: Final = "integration_timeout"
UPSTREAM_TIMEOUT: Final = "upstream_timeout"
INTEGRATION_FAILED: Final = "integration_failed"
MESSAGE_NOT_FOUND: Final = "message_not_found"
BAD_CURSOR: Final = "bad_cursor"
DRAFT_NOT_FOUND: Final = "draft_not_found"
DRAFT_CONFLICT: Final = "draft_conflict"
DRAFT_RESEND_UNCONFIRMED: Final = "draft_resend_unconfirmed"
DRAFT_INVALID: Final = "draft_invalid"
HEADER_INJECTION: Final = "header_injection"
CONTACT_NOT_FOUND: Final = "contact_not_found"
CONTACT_CONFLICT: Final = "contact_conflict"
MCP_DISABLED: Final = "mcp_disabled"
APPROVAL_NOT_FOUND: Final = "approval_not_found"
APPROVAL_ALREADY_DECIDED: Final = "approval_already_decided"
HTTP_STATUS: Final = "http_status"
AGENT_RUN_FAILED: Final = "agent_run_failed"
EXPRESSION_FAILED: Final = "expression_failed"
WORKFLOW_STEP_INTERRUPTED: Final = "workflow_step_interrupted"
WORKFLOW_LOOPED: Final = "workflow_looped"
WORKFLOW_BUSY: Final = "workflow_busy"
WORKFLOW_TIMED_OUT: Final = "workflow_timed_out"
WORKFLOW_INVALID: Final = "workflow_invalid"
WORKFLOW_NOT_FOUND: Final = "workflow_not_found"
WORKFLOW_RUN_NOT_FOUND: Final = "workflow_run_not_found"
WORKFLOW_VERSION_CONFLICT: Final = "workflow_version_conflict"
WORKFLOW_LIMIT: Final = "workflow_limit"
WORKFLOW_FORBIDDEN: Final = "workflow_forbidden"
NOTIFICATION_NOT_FOUND: Final = "notification_not_found"
BACKUP_PASSPHRASE_WRONG: Final = "backup_passphrase_wrong"  # noqa: S105  # a code
BACKUP_DAMAGED: Final = "backup_damaged"
BACKUP_TOO_NEW: Final = "backup_too_new"
BACKUP_TARGET_RUNNING: Final = "backup_target_running"
BACKUP_TARGET_NOT_EMPTY: Final = "backup_target_not_empty"
BACKUP_NOT_FOUND: Final = "backup_not_found"
BACKUP_KEY_MISSING: Final = "backup_key_missing"
REPAIR_NOT_FOUND: Final = "repair_not_found"
REPAIR_NOT_DISMISSABLE: Final = "repair_not_dismissable"
SKILL_NOT_FOUND: Final = "skill_not_found"
SKILL_TOO_LARGE: Final = "skill_too_large"
SKILL_READ_ONLY: Final = "skill_read_only"
SKILL_LIMIT: Final = "skill_limit"
MEMORY_NODE_NOT_FOUND: Final = "memory_node_not_found"
MEMORY_FACT_NOT_FOUND: Final = "memory_fact_not_found"
MEMORY_RELATION_NOT_FOUND: Final = "memory_relation_not_found"
MEMORY_NODE_REQUIRED: Final = "memory_node_required"
MEMORY_NODE_EXISTS: Final = "memory_node_exists"
MEMORY_PREDICATE_UNKNOWN: Final = "memory_predicate_unknown"
MEMORY_KIND_UNKNOWN: Final = "memory_kind_unknown"
MEMORY_INVALID: Final = "memory_invalid"
MEMORY_LIMIT: Final = "memory_limit"
MEMORY_FORBIDDEN: Final = "memory_forbidden"


def error_key(code: str) -> str:
    """The translation key of a code's general sentence."""
    return ERROR_KEY_PREFIX + code


class HubError(Exception):
    """Base of every error the hub raises on purpose; ``str()`` is safe to show a person.

    ``raise NotFoundError("no token 'x'")`` keeps working: English gets that sentence, other
    languages the code's general one. ``key=`` and named params give every language the specific
    sentence, e.g. ``NotFoundError("no token 'x'", key="errors.token_not_found", token="x")``.
    """

    code: ClassVar[str] = INTERNAL_ERROR
    http_status: ClassVar[int] = 500
    default_key: ClassVar[str | None] = None
    """A class whose every instance has one sentence names it here, English included."""
    logged: ClassVar[bool] = True
    """Whether an answer of 500 or more is logged as an error where it is answered; ``False`` for
    a state the hub shows elsewhere, or a failure logged once where it happened."""

    def __init__(
        self, message: str, *, code: str | None = None, key: str | None = None, **params: Param
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code  # type: ignore[misc]  # a per-instance refinement of the class code
        self.key = key or self.default_key
        """The specific sentence's key; None: the message in English, ``errors.<code>`` elsewhere."""
        self.params: dict[str, Param] = params

    @property
    def translation_key(self) -> str:
        """The key a client renders: the specific one, else the code's general sentence."""
        return self.key or error_key(self.code)


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


class IntegrationError(HubError):
    """A call into integration code did not succeed; ``reason`` is the short text an entry keeps."""

    code = INTEGRATION_FAILED
    http_status = 502
    logged = False  # the runtime logs it once, with its correlation id

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        code: str | None = None,
        key: str | None = None,
        **params: Param,
    ) -> None:
        super().__init__(message, code=code, key=key, **params)
        self.reason = reason
        self.cause: str | None = None
        """The class name of what the integration raised, when that is worth telling."""


class EntryNeedsReauthError(IntegrationError):
    """The service refused the entry's credentials: the person is asked for new ones."""

    code = ENTRY_NEEDS_REAUTH
    http_status = 503


class EntryNotReadyError(IntegrationError):
    """The integration's service is unavailable for now; the same call may succeed later."""

    code = ENTRY_NOT_READY
    http_status = 503


class IntegrationTimeoutError(IntegrationError):
    """The hub's deadline expired (``integration_timeout``) or the integration's own call timed out."""

    code = INTEGRATION_TIMEOUT
    http_status = 504


class IntegrationRejectedError(IntegrationError):
    """The integration refused the caller's input (``ValueError``, ``WebhookPayloadError``)."""

    code = BAD_REQUEST
    http_status = 400


class IntegrationFailedError(IntegrationError):
    """The integration raised something unexpected or returned the wrong type; logged with an id."""

    code = INTEGRATION_FAILED
    http_status = 502
