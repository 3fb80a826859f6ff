"""The integrations this process found, imported when first needed, and the folders it skipped."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from hub.integrations.loader import (
    Candidate,
    Discovery,
    LoadedIntegration,
    SkippedIntegration,
    load,
)

_LOGGER = logging.getLogger(__name__)


class IntegrationRegistry:
    """Lookup by domain over one discovery; replaced whole when discovery runs again.

    A scan leaves its integrations pending: a domain's package is imported (its dependencies
    first) when something asks for that domain, and every pending one when something lists them
    all, so a hub imports the code of the integrations it has entries of, not of all it ships.
    """

    def __init__(self, discovery: Discovery | None = None) -> None:
        # Imports may run on a worker thread (``load``) while the loop asks for a domain.
        self._lock = threading.RLock()
        self._order: tuple[str, ...] = ()
        self._loaded: dict[str, LoadedIntegration] = {}
        self._pending: dict[str, Candidate] = {}
        self._scan_skipped: tuple[SkippedIntegration, ...] = ()
        self._load_skipped: dict[str, SkippedIntegration] = {}
        self.discovery_seconds = 0.0
        if discovery is not None:
            self.replace(discovery)

    def replace(self, discovery: Discovery) -> None:
        """Take the result of a (new) discovery."""
        with self._lock:
            self._loaded = {item.domain: item for item in discovery.loaded}
            self._pending = {item.domain: item for item in discovery.pending}
            self._order = (*self._loaded, *self._pending)
            self._scan_skipped = tuple(discovery.skipped)
            self._load_skipped = {}
            self.discovery_seconds = discovery.seconds

    def __iter__(self) -> Iterator[LoadedIntegration]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __contains__(self, domain: object) -> bool:
        return isinstance(domain, str) and self.get(domain) is not None

    def __getitem__(self, domain: str) -> LoadedIntegration:
        loaded = self.get(domain)
        if loaded is None:
            raise KeyError(domain)
        return loaded

    def get(self, domain: str) -> LoadedIntegration | None:
        """The loaded integration of ``domain``, if any; imports it on first use."""
        if domain in self._pending:
            self._resolve(domain)
        return self._loaded.get(domain)

    @property
    def domains(self) -> list[str]:
        """Loaded domains in load order (dependencies first)."""
        return [item.domain for item in self._all()]

    @property
    def skipped(self) -> tuple[SkippedIntegration, ...]:
        """Folders that were not loaded, each with its reason."""
        self.load_all()
        return self._skipped_so_far()

    def skipped_domain(self, domain: str) -> SkippedIntegration | None:
        """Why ``domain`` is not loaded, if a folder for it was found and skipped."""
        self.get(domain)
        return next((item for item in self._skipped_so_far() if item.domain == domain), None)

    @property
    def complete(self) -> bool:
        """Whether every integration found has been imported (or has failed to)."""
        return not self._pending

    def candidates(self) -> dict[str, Path]:
        """``domain → folder`` of every integration loaded or still to import; imports nothing."""
        with self._lock:
            return {
                domain: item.path
                for domain in self._order
                if (item := self._loaded.get(domain) or self._pending.get(domain)) is not None
            }

    def resolved(self) -> tuple[list[LoadedIntegration], list[SkippedIntegration], list[Candidate]]:
        """What is known without importing: loaded, skipped, and still pending (in order)."""
        with self._lock:
            loaded = [self._loaded[d] for d in self._order if d in self._loaded]
            pending = [self._pending[d] for d in self._order if d in self._pending]
            return loaded, list(self._skipped_so_far()), pending

    def load_all(self) -> None:
        """Import every pending integration; blocking, so the loop calls ``load`` instead."""
        if self._pending:
            self._load_many(list(self._pending))

    async def load(self, domains: Iterable[str] | None = None) -> None:
        """Import ``domains`` (default: every pending one) on a worker thread."""
        wanted = list(self._pending) if domains is None else list(domains)
        if any(domain in self._pending for domain in wanted):
            await asyncio.to_thread(self._load_many, wanted)

    def _all(self) -> list[LoadedIntegration]:
        self.load_all()
        return [self._loaded[d] for d in self._order if d in self._loaded]

    def _skipped_so_far(self) -> tuple[SkippedIntegration, ...]:
        by_order = [self._load_skipped[d] for d in self._order if d in self._load_skipped]
        return (*self._scan_skipped, *by_order)

    def _load_many(self, domains: list[str]) -> None:
        start = time.perf_counter()
        for domain in domains:
            self._resolve(domain)
        _LOGGER.debug("Imported %s in %.1f ms", domains, (time.perf_counter() - start) * 1000)

    def _resolve(self, domain: str) -> None:
        with self._lock:
            candidate = self._pending.get(domain)
            if candidate is None:
                return  # imported meanwhile, or never pending
            for dependency in candidate.manifest.dependencies:
                self._resolve(dependency)  # the scan refused cycles and missing dependencies
            outcome = load(candidate, self._loaded)
            if isinstance(outcome, LoadedIntegration):
                self._loaded[domain] = outcome
            else:
                self._load_skipped[domain] = outcome
            del self._pending[domain]
