"""The process's open-file limit: raised at start within the hard limit, since every connection is one."""

from __future__ import annotations

import logging
import resource
from typing import Final

_LOGGER = logging.getLogger(__name__)

WANTED: Final = 65536
"""Soft limit asked for: far above what the connection caps need, well under kernels' defaults."""
RESERVE: Final = 128
"""Files kept for the hub itself beside its connections: the database, storage, outgoing requests,
and the burst of sockets accepted in one event-loop turn before the connection cap closes them."""


def raise_file_limit(wanted: int = WANTED) -> int:
    """Raise the soft ``RLIMIT_NOFILE`` towards ``wanted`` within the hard limit; the soft limit after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as err:
        _LOGGER.warning("Cannot raise the open-file limit from %d to %d: %s", soft, target, err)
        return soft
    _LOGGER.debug("Open-file limit raised from %d to %d", soft, target)
    return target


def check_capacity(soft: int, max_connections: int) -> None:
    """Warn when ``http.max_connections`` cannot all be open under the open-file limit."""
    if soft == resource.RLIM_INFINITY or max_connections + RESERVE <= soft:
        return
    # Like nginx's "worker_connections exceed open file resource limit": the setting stands, the
    # log says why connections past the limit will be refused by the kernel instead.
    _LOGGER.warning(
        "http.max_connections is %d but the open-file limit is %d (hard limit included): "
        "lower max_connections to %d or raise the limit (ulimit -n, LimitNOFILE=)",
        max_connections,
        soft,
        max(1, soft - RESERVE),
    )
