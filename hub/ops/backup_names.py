"""What names a backup: its file suffix, and the variable that holds its passphrase.

Apart from ``hub.ops.backup`` so the hub can list backups and read its settings at start without
importing what writes archives (``tarfile`` and the archive format), until a backup is made.
"""

from __future__ import annotations

from typing import Final

PASSPHRASE_ENV: Final = "HUB_BACKUP_PASSPHRASE"  # noqa: S105  # a variable's name
SUFFIX: Final = ".hubbackup"
