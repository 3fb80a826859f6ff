"""The integrations this process loaded, in load order, and the folders it skipped with their reasons."""

from __future__ import annotations

from collections.abc import Iterator

from hub.integrations.loader import Discovery, LoadedIntegration, SkippedIntegration


class IntegrationRegistry:
    """Lookup by domain over one discovery; replaced whole when discovery runs again."""

    def __init__(self, discovery: Discovery | None = None) -> None:
        self._loaded: dict[str, LoadedIntegration] = {}
        self._skipped: tuple[SkippedIntegration, ...] = ()
        self.discovery_seconds = 0.0
        if discovery is not None:
            self.replace(discovery)

    def replace(self, discovery: Discovery) -> None:
        """Take the result of a (new) discovery."""
        self._loaded = {item.domain: item for item in discovery.loaded}
        self._skipped = tuple(discovery.skipped)
        self.discovery_seconds = discovery.seconds

    def __iter__(self) -> Iterator[LoadedIntegration]:
        return iter(self._loaded.values())

    def __len__(self) -> int:
        return len(self._loaded)

    def __contains__(self, domain: object) -> bool:
        return domain in self._loaded

    def __getitem__(self, domain: str) -> LoadedIntegration:
        return self._loaded[domain]

    def get(self, domain: str) -> LoadedIntegration | None:
        """The loaded integration of ``domain``, if any."""
        return self._loaded.get(domain)

    @property
    def domains(self) -> list[str]:
        """Loaded domains in load order (dependencies first)."""
        return list(self._loaded)

    @property
    def skipped(self) -> tuple[SkippedIntegration, ...]:
        """Folders that were not loaded, each with its reason."""
        return self._skipped

    def skipped_domain(self, domain: str) -> SkippedIntegration | None:
        """Why ``domain`` is not loaded, if a folder for it was found and skipped."""
        return next((item for item in self._skipped if item.domain == domain), None)
