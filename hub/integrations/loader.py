"""Discovery and loading: scan folders, validate manifests, order by dependencies, import, inject."""

from __future__ import annotations

import enum
import importlib.util
import logging
import re
import sys
import time
import types
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from hub.integrations.config_flow import ConfigFlow
from hub.integrations.dependencies import DependencyProblem, order_by_dependencies
from hub.integrations.integration import Integration
from hub.integrations.manifest import IntegrationManifest, ManifestError, load_manifest

_LOGGER = logging.getLogger(__name__)

MANIFEST_FILE: Final = "manifest.yaml"
PACKAGE_FILE: Final = "__init__.py"
NAMESPACE: Final = "_hub_integrations"
"""The private parent of every loaded integration, so ``foo`` never shadows a real package."""

Source = Literal["bundled", "external"]
_REQUIREMENT_NAME: Final = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class SkipReason(enum.StrEnum):
    """Why a folder did not become a loaded integration; stable codes the UI can show."""

    MANIFEST_MISSING = "manifest_missing"
    MANIFEST_INVALID = "manifest_invalid"
    DOMAIN_MISMATCH = "integration_domain_mismatch"
    DUPLICATE_DOMAIN = "duplicate_domain"
    DEPENDENCY_MISSING = "dependency_missing"
    DEPENDENCY_CYCLE = "dependency_cycle"
    IMPORT_FAILED = "import_failed"
    INTEGRATION_MISSING = "integration_missing"
    INTEGRATION_INVALID = "integration_invalid"
    CONFIG_FLOW_MISSING = "config_flow_missing"


@dataclass(frozen=True, slots=True)
class LoadedIntegration:
    """An integration that was imported and is ready for its entries."""

    manifest: IntegrationManifest
    integration: Integration
    path: Path
    source: Source
    missing_requirements: tuple[str, ...] = ()

    @property
    def domain(self) -> str:
        """The integration's domain."""
        return self.manifest.domain


@dataclass(frozen=True, slots=True)
class SkippedIntegration:
    """A folder that was not loaded, and why; ``domain`` is known once its manifest parsed."""

    path: Path
    reason: SkipReason
    message: str
    domain: str | None = None
    manifest: IntegrationManifest | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A folder whose manifest is valid and whose dependencies resolve: importable, not imported."""

    manifest: IntegrationManifest
    path: Path
    source: Source

    @property
    def domain(self) -> str:
        """The integration's domain."""
        return self.manifest.domain


@dataclass(slots=True)
class Discovery:
    """What one discovery found: loaded integrations in load order, and skipped folders.

    ``pending`` holds, in dependency order, the candidates a scan found and nobody imported yet.
    """

    loaded: list[LoadedIntegration] = field(default_factory=list)
    skipped: list[SkippedIntegration] = field(default_factory=list)
    seconds: float = 0.0
    pending: list[Candidate] = field(default_factory=list)


def discover(
    bundled_dir: Path,
    external_dirs: Sequence[Path] = (),
    *,
    allow_external: bool = False,
) -> Discovery:
    """Find, validate, order and import integrations; a bad folder is recorded and skipped."""
    start = time.perf_counter()
    result = scan(bundled_dir, external_dirs, allow_external=allow_external)
    pending, result.pending = result.pending, []
    loaded: set[str] = set()
    for candidate in pending:
        outcome = load(candidate, loaded)
        if isinstance(outcome, LoadedIntegration):
            result.loaded.append(outcome)
            loaded.add(outcome.domain)
        else:
            result.skipped.append(outcome)
    result.seconds = time.perf_counter() - start
    _LOGGER.info(
        "Discovered %d integration(s) in %.1f ms (%d skipped)",
        len(result.loaded),
        result.seconds * 1000,
        len(result.skipped),
    )
    return result


def scan(
    bundled_dir: Path,
    external_dirs: Sequence[Path] = (),
    *,
    allow_external: bool = False,
) -> Discovery:
    """Find, validate and order integrations without importing them: every one is ``pending``."""
    start = time.perf_counter()
    result = Discovery()
    dirs: list[tuple[Path, Source]] = [(bundled_dir, "bundled")]
    if allow_external:
        dirs += [(directory, "external") for directory in external_dirs]
    elif external_dirs:
        _LOGGER.warning(
            "Not scanning %d external integration dir(s): integrations.allow_external is false",
            len(external_dirs),
        )
    candidates = _read_manifests(dirs, result)
    order, problems = order_by_dependencies(
        {domain: c.manifest for domain, c in candidates.items()}
    )
    for domain, problem in problems.items():
        _skip(result, candidates[domain], _problem_reason(problem), problem.message)
    result.pending = [candidates[domain] for domain in order]
    result.seconds = time.perf_counter() - start
    return result


def _read_manifests(dirs: list[tuple[Path, Source]], result: Discovery) -> dict[str, Candidate]:
    candidates: dict[str, Candidate] = {}
    for directory, source in dirs:
        if not directory.is_dir():
            _LOGGER.warning("Integration dir %s does not exist; nothing loaded from it", directory)
            continue
        for folder in sorted(directory.iterdir()):
            if not folder.is_dir() or folder.name.startswith((".", "_")):
                continue
            manifest_path = folder / MANIFEST_FILE
            if not manifest_path.is_file():
                result.skipped.append(
                    SkippedIntegration(folder, SkipReason.MANIFEST_MISSING, f"no {MANIFEST_FILE}")
                )
                _LOGGER.error("Skipping integration folder %s: no %s", folder, MANIFEST_FILE)
                continue
            try:
                manifest = load_manifest(manifest_path)
            except ManifestError as err:
                result.skipped.append(
                    SkippedIntegration(folder, SkipReason.MANIFEST_INVALID, err.message)
                )
                _LOGGER.error("Skipping integration folder %s: %s", folder, err.message)
                continue
            candidate = Candidate(manifest, folder, source)
            if manifest.domain != folder.name:
                message = (
                    f"manifest domain {manifest.domain!r} differs from folder name {folder.name!r}"
                )
                _skip(result, candidate, SkipReason.DOMAIN_MISMATCH, message)
                continue
            winner = candidates.get(manifest.domain)
            if winner is not None:
                # First found wins: the bundled dir, then external dirs in the configured order.
                message = f"domain {manifest.domain!r} is already provided by {winner.path}"
                _skip(
                    result, candidate, SkipReason.DUPLICATE_DOMAIN, message, level=logging.WARNING
                )
                continue
            candidates[manifest.domain] = candidate
    return candidates


def load(candidate: Candidate, loaded: Collection[str]) -> LoadedIntegration | SkippedIntegration:
    """Import one candidate whose dependencies were tried already (``loaded``: those that loaded)."""
    manifest, folder = candidate.manifest, candidate.path
    failed = [dep for dep in manifest.dependencies if dep not in loaded]
    if failed:
        message = f"depends on {', '.join(failed)}, which failed to load"
        return _skipped(candidate, SkipReason.DEPENDENCY_MISSING, message)
    if not (folder / PACKAGE_FILE).is_file():
        return _skipped(candidate, SkipReason.INTEGRATION_MISSING, f"no {PACKAGE_FILE}")
    try:
        module = _import_package(manifest.domain, folder)
    except (Exception, SystemExit) as err:
        _LOGGER.error(
            "Skipping integration %s: importing %s failed", manifest.domain, folder, exc_info=True
        )
        reason = f"import failed: {type(err).__name__}: {err}"
        return SkippedIntegration(
            folder, SkipReason.IMPORT_FAILED, reason, manifest.domain, manifest
        )
    integration = getattr(module, "INTEGRATION", None)
    problem = _problem(module, integration, manifest)
    if problem is not None:
        _unimport(manifest.domain)
        return _skipped(candidate, *problem)
    assert isinstance(integration, Integration)  # ``_problem`` refused anything else
    flow_cls = _flow_class(module, integration)
    integration.manifest = manifest
    integration.config_flow_cls = flow_cls
    missing = missing_requirements(manifest.requirements)
    for requirement in missing:
        _LOGGER.warning(
            "Integration %s requires %s, which is not installed; the hub never installs packages, "
            "so add it to the hub's environment",
            manifest.domain,
            requirement,
        )
    _LOGGER.warning(
        "integration_loaded_full_trust: %s from %s (its code runs with full trust in this process)",
        manifest.domain,
        folder,
    )
    return LoadedIntegration(manifest, integration, folder, candidate.source, tuple(missing))


def _problem(
    module: types.ModuleType, integration: object, manifest: IntegrationManifest
) -> tuple[SkipReason, str] | None:
    """Why an imported package cannot be used, if it cannot."""
    if integration is None:
        return SkipReason.INTEGRATION_MISSING, "__init__.py has no INTEGRATION"
    if not isinstance(integration, Integration):
        message = f"INTEGRATION is a {type(integration).__name__}, not an Integration instance"
        return SkipReason.INTEGRATION_INVALID, message
    flow_cls = _flow_class(module, integration)
    if flow_cls is not None and not (
        isinstance(flow_cls, type) and issubclass(flow_cls, ConfigFlow)
    ):
        message = f"its config flow {flow_cls!r} is not a ConfigFlow subclass"
        return SkipReason.INTEGRATION_INVALID, message
    if manifest.config_flow and flow_cls is None:
        message = "config_flow is true, but there is no config_flow_cls and no CONFIG_FLOW"
        return SkipReason.CONFIG_FLOW_MISSING, message
    return None


def _flow_class(module: types.ModuleType, integration: Integration) -> Any:
    return getattr(integration, "config_flow_cls", None) or getattr(module, "CONFIG_FLOW", None)


def missing_requirements(requirements: Sequence[str]) -> list[str]:
    """The requirements whose distribution is not installed; never installs anything."""
    import importlib.metadata  # only integrations with requirements pay for it at start-up

    missing = []
    for requirement in requirements:
        match = _REQUIREMENT_NAME.match(requirement)
        if match is None:
            missing.append(requirement)
            continue
        try:
            importlib.metadata.distribution(match[1])
        except importlib.metadata.PackageNotFoundError:
            missing.append(requirement)
    return missing


def _import_package(domain: str, folder: Path) -> types.ModuleType:
    """Import ``folder/__init__.py`` as the package ``_hub_integrations.<domain>``."""
    if NAMESPACE not in sys.modules:
        namespace = types.ModuleType(NAMESPACE, "Loaded hub integrations.")
        namespace.__path__ = []
        sys.modules[NAMESPACE] = namespace
    _unimport(domain)
    name = f"{NAMESPACE}.{domain}"
    spec = importlib.util.spec_from_file_location(
        name, folder / PACKAGE_FILE, submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {folder / PACKAGE_FILE}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        _unimport(domain)
        raise
    return module


def _unimport(domain: str) -> None:
    """Forget an integration's modules, so a failed or repeated load starts clean."""
    name = f"{NAMESPACE}.{domain}"
    for module_name in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[module_name]


def _problem_reason(problem: DependencyProblem) -> SkipReason:
    return SkipReason.DEPENDENCY_CYCLE if problem.cycle else SkipReason.DEPENDENCY_MISSING


def _skip(
    result: Discovery,
    candidate: Candidate,
    reason: SkipReason,
    message: str,
    *,
    level: int = logging.ERROR,
) -> None:
    result.skipped.append(_skipped(candidate, reason, message, level=level))


def _skipped(
    candidate: Candidate, reason: SkipReason, message: str, *, level: int = logging.ERROR
) -> SkippedIntegration:
    domain = candidate.manifest.domain
    _LOGGER.log(level, "Skipping integration %s (%s): %s", domain, candidate.path, message)
    return SkippedIntegration(candidate.path, reason, message, domain, candidate.manifest)
