"""The typed refusals of backups: each a stable code, a translated sentence, and an English message."""

from __future__ import annotations

from hub.core.errors import (
    BACKUP_DAMAGED,
    BACKUP_KEY_MISSING,
    BACKUP_NOT_FOUND,
    BACKUP_PASSPHRASE_WRONG,
    BACKUP_TARGET_NOT_EMPTY,
    BACKUP_TARGET_RUNNING,
    BACKUP_TOO_NEW,
    HubError,
    error_key,
)


class BackupPassphraseWrongError(HubError):
    """Neither the passphrase nor the recovery key given opens any key slot of the archive."""

    code = BACKUP_PASSPHRASE_WRONG
    http_status = 400
    default_key = error_key(BACKUP_PASSPHRASE_WRONG)


class BackupDamagedError(HubError):
    """The archive is truncated, tampered with, or not a hub backup; the message names the check."""

    code = BACKUP_DAMAGED
    http_status = 400
    default_key = error_key(BACKUP_DAMAGED)

    def __init__(self, check: str) -> None:
        super().__init__(f"The backup is damaged: {check}. Nothing was changed.")
        self.check = check


class BackupTooNewError(HubError):
    """The archive was made by a hub whose database or format this hub does not know yet."""

    code = BACKUP_TOO_NEW
    http_status = 400
    default_key = error_key(BACKUP_TOO_NEW)


class BackupTargetRunningError(HubError):
    """A restore was aimed at the config directory of a hub that is running."""

    code = BACKUP_TARGET_RUNNING
    http_status = 409
    default_key = error_key(BACKUP_TARGET_RUNNING)


class BackupTargetNotEmptyError(HubError):
    """A restore was aimed at a directory that holds something other than a hub."""

    code = BACKUP_TARGET_NOT_EMPTY
    http_status = 409
    default_key = error_key(BACKUP_TARGET_NOT_EMPTY)


class BackupNotFoundError(HubError):
    """No stored backup has that name."""

    code = BACKUP_NOT_FOUND
    http_status = 404
    default_key = error_key(BACKUP_NOT_FOUND)


class BackupKeyMissingError(HubError):
    """A backup needs a passphrase or a recovery key, and the hub has neither."""

    code = BACKUP_KEY_MISSING
    http_status = 409
    default_key = error_key(BACKUP_KEY_MISSING)
