"""Keeping a hub for years: backups, repairs, diagnostics and the integration author's tools."""
