"""Save version after version of one storage file until killed; the crash-safety test kills it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any, Final

from hub.core.storage import StorageManager

KEY: Final = "crash.test"
VERSION: Final = 1
# ~176 KiB a version: large enough that a kill often lands between creating the temporary file
# and renaming it over the real one, which is the window crash safety is about.
_REPEAT: Final = 16 * 1024


def version_data(counter: int) -> dict[str, Any]:
    """Return the data of version ``counter``: a reader can tell a whole version from a torn one."""
    return {"counter": counter, "blob": f"{counter:010d};" * _REPEAT}


async def write_forever(config_dir: Path) -> None:
    """Save successive versions through the real ``Store.save``, resuming after the one on disk."""
    store = StorageManager(config_dir).store(KEY, VERSION)
    stored = await store.load()
    counter = 0 if stored is None else stored["counter"] + 1
    while True:
        await store.save(version_data(counter))
        counter += 1


if __name__ == "__main__":
    asyncio.run(write_forever(Path(sys.argv[1])))
