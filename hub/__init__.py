"""The hub: a single-process integration hub for self-hosters."""

__version__ = "0.1.0"
