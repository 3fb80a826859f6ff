"""The hub: a single-process integration hub for self-hosters."""

import sys

# An editable install runs the hub from its source tree, and PYTHONDONTWRITEBYTECODE (set by
# many CI and container images) would make every start compile all of hub/ and integrations/
# again: ~150 ms of a ~0.55 s start. Keep the bytecode; a read-only tree just skips the write.
sys.dont_write_bytecode = False

__version__ = "0.1.0"
