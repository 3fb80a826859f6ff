"""Server-side i18n: dotted keys resolved per language from the integration's and the hub's JSON files."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

_LOGGER = logging.getLogger(__name__)

FALLBACK_LANGUAGE: Final = "en"
HUB_TRANSLATIONS: Final = Path(__file__).resolve().parent.parent / "translations"
"""The hub's common wording (``error.required``, ``abort.already_configured``, ...)."""
TRANSLATIONS_DIR: Final = "translations"
"""The folder inside an integration that holds ``<lang>.json``."""

# A BCP 47 tag as far as the hub needs one: a language, then script, region or variant subtags.
_TAG: Final = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")
_MAX_ACCEPT_LANGUAGE: Final = 1024
_MAX_PREFERENCES: Final = 16
_MAX_CACHED: Final = 512

_Table = Mapping[str, str]
_PLACEHOLDER: Final = re.compile(r"\{(\w+)\}")


def fill(template: str, params: Mapping[str, object]) -> str:
    """``template`` with each ``{name}`` replaced by its param; an unknown placeholder stays."""
    return _PLACEHOLDER.sub(lambda m: str(params[m[1]]) if m[1] in params else m[0], template)


def normalize_tag(value: object) -> str | None:
    """A canonical language tag (``pt_br`` → ``pt-BR``, ``ZH-hant`` → ``zh-Hant``), or None."""
    if not isinstance(value, str) or len(value) > 35 or not _TAG.match(value):
        return None
    language, *rest = value.replace("_", "-").split("-")
    parts = [language.lower()]
    for sub in rest:
        if len(sub) == 4 and sub.isalpha():
            parts.append(sub.title())  # script: Hant
        elif (len(sub) == 2 and sub.isalpha()) or (len(sub) == 3 and sub.isdigit()):
            parts.append(sub.upper())  # region: BR, 419
        else:
            parts.append(sub.lower())
    return "-".join(parts)


def _truncations(tag: str) -> list[str]:
    # de-AT → [de-AT, de]; zh-Hant-TW → [zh-Hant-TW, zh-Hant, zh]
    parts = tag.split("-")
    return ["-".join(parts[:end]) for end in range(len(parts), 0, -1)]


@dataclass(frozen=True, slots=True)
class Localizer:
    """The lookup chain for one domain and language; every lookup is a few dict reads."""

    domain: str | None
    language: str
    own: tuple[_Table, ...]
    """The integration's tables, most specific language first, then English."""
    chain: tuple[_Table, ...]
    """Everything in resolution order: integration and hub for the language, then both in English."""

    def get(self, key: str) -> str | None:
        """The text for ``key``, or None when no table has it."""
        for table in self.chain:
            text = table.get(key)
            if text is not None:
                return text
        return None

    def get_own(self, key: str) -> str | None:
        """The text for ``key`` from the integration's own files only, or None."""
        for table in self.own:
            text = table.get(key)
            if text is not None:
                return text
        return None

    def __call__(self, key: str) -> str:
        """The text for ``key``, or the key itself when nothing matches."""
        text = self.get(key)
        return key if text is None else text


@dataclass(frozen=True, slots=True)
class _Catalog:
    """What one ``load`` read: language → flat table, for the hub and for each domain."""

    hub: Mapping[str, _Table] = field(default_factory=dict)
    domains: Mapping[str, Mapping[str, _Table]] = field(default_factory=dict)


class Translations:
    """Every translation file, read once at start-up; lookups afterwards never touch the disk."""

    def __init__(self) -> None:
        """Start empty: every lookup returns its key until ``load`` runs."""
        self._catalog = _Catalog()
        self._cache: dict[tuple[str | None, str], Localizer] = {}

    def load(self, hub_dir: Path, domains: Mapping[str, Path]) -> None:
        """Read ``hub_dir/*.json`` and each integration folder's ``translations/*.json``.

        Blocking file I/O: run it in a thread. A broken file is logged and skipped, never raised.
        """
        catalog = _Catalog(
            hub=_read_dir(hub_dir),
            domains={
                domain: _read_dir(path / TRANSLATIONS_DIR) for domain, path in domains.items()
            },
        )
        # One assignment each, so a lookup racing a reload sees the old catalog or the new one.
        self._catalog = catalog
        self._cache = {}

    def languages(self, domain: str | None = None) -> set[str]:
        """Languages with a file: the hub's, plus the integration's own when ``domain`` is given."""
        found = set(self._catalog.hub)
        if domain is not None:
            found.update(self._catalog.domains.get(domain, {}))
        return found

    def localizer(self, domain: str | None, language: str) -> Localizer:
        """The lookup chain for ``domain`` (None: the hub alone) in ``language``."""
        cache = self._cache
        key = (domain, language)
        found = cache.get(key)
        if found is None:
            found = self._build(domain, language)
            # Languages come from requests; a bound keeps odd headers from growing memory forever.
            if len(cache) >= _MAX_CACHED:
                cache.clear()
            cache[key] = found
        return found

    def lookup(self, domain: str | None, language: str, key: str) -> str:
        """Resolve the dotted ``key``: integration, hub, integration ``en``, hub ``en``, the key."""
        return self.localizer(domain, language)(key)

    def title(self, domain: str, language: str, fallback: str) -> str:
        """The integration's display title (its ``title`` key), else ``fallback`` (the manifest name)."""
        text = self.localizer(domain, language).get_own("title")
        return fallback if text is None else text

    def _build(self, domain: str | None, language: str) -> Localizer:
        catalog = self._catalog
        tag = normalize_tag(language)
        wanted = _truncations(tag) if tag else []
        own_tables = catalog.domains.get(domain, {}) if domain is not None else {}
        own = _pick(own_tables, wanted)
        hub = _pick(catalog.hub, wanted)
        own_en = _pick(own_tables, [FALLBACK_LANGUAGE])
        hub_en = _pick(catalog.hub, [FALLBACK_LANGUAGE])
        return Localizer(
            domain=domain,
            language=language,
            own=_unique([*own, *own_en]),
            chain=_unique([*own, *hub, *own_en, *hub_en]),
        )


def _pick(tables: Mapping[str, _Table], tags: Iterable[str]) -> list[_Table]:
    return [tables[tag] for tag in tags if tag in tables]


def _unique(tables: Iterable[_Table]) -> tuple[_Table, ...]:
    # Asking for English would otherwise walk the English tables twice on every miss.
    seen: set[int] = set()
    kept: list[_Table] = []
    for table in tables:
        if id(table) not in seen:
            seen.add(id(table))
            kept.append(table)
    return tuple(kept)


def _read_dir(folder: Path) -> dict[str, _Table]:
    tables: dict[str, _Table] = {}
    try:
        paths = sorted(folder.glob("*.json"))
    except OSError as err:
        _LOGGER.warning("%s: cannot list translations (%s)", folder, err)
        return tables
    for path in paths:
        tag = normalize_tag(path.stem)
        if tag is None:
            _LOGGER.warning("%s: ignored, the file name is not a language tag (en, pt-BR)", path)
            continue
        if tag in tables:
            _LOGGER.warning("%s: ignored, another file already holds %r", path, tag)
            continue
        table = _read_file(path)
        if table is not None:
            tables[tag] = table
    return tables


def _read_file(path: Path) -> dict[str, str] | None:
    try:
        raw = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        # The reason names a line and column, never the file's content.
        reason = f"line {err.lineno}: {err.msg}" if isinstance(err, json.JSONDecodeError) else err
        _LOGGER.warning("%s: ignored, not readable JSON (%s)", path, reason)
        return None
    if not isinstance(raw, dict):
        _LOGGER.warning("%s: ignored, a translation file must be a JSON object", path)
        return None
    table: dict[str, str] = {}
    skipped: list[str] = []
    for key, value in _flatten(raw, ""):
        if isinstance(value, str):
            table[key] = value
        else:
            skipped.append(key)
    if skipped:
        _LOGGER.warning(
            "%s: %d value(s) are not text and were ignored (first: %s)",
            path,
            len(skipped),
            skipped[0],
        )
    return table


def _flatten(node: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for key, value in node.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, dotted + ".")
        else:
            yield dotted, value


def negotiate(
    *,
    explicit: str | None,
    person: str | None,
    accept_language: str | None,
    available: set[str],
    default: str = FALLBACK_LANGUAGE,
) -> str:
    """The language to answer in: explicit choice, person's setting, ``Accept-Language``, ``default``.

    Each candidate matches an available language exactly, by a shorter tag (``de-AT`` → ``de``), or
    a bare language by a regional one (``pt`` → ``pt-BR``). Garbage in any argument is skipped.
    """
    canonical = {tag for tag in map(normalize_tag, available) if tag}
    if not canonical:
        return default
    for choice in (explicit, person):
        found = _match(choice, canonical)
        if found:
            return found
    for choice in parse_accept_language(accept_language):
        found = _match(choice, canonical)
        if found:
            return found
    return default


def parse_accept_language(header: str | None) -> list[str]:
    """The language tags of an ``Accept-Language`` header, highest q first; ``*`` and q=0 dropped."""
    if not isinstance(header, str) or not header:
        return []
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(header[:_MAX_ACCEPT_LANGUAGE].split(",")[:_MAX_PREFERENCES]):
        tag, _, params = item.partition(";")
        quality = _quality(params)
        tag = tag.strip()
        if quality > 0 and tag != "*":
            ranked.append((-quality, index, tag))  # the index keeps equal q in header order
    return [tag for _, _, tag in sorted(ranked)]


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                return 0.0  # an unreadable weight must not outrank a readable one
            return quality if 0.0 <= quality <= 1.0 else 0.0  # nan and inf fail both comparisons
    return 1.0


def _match(choice: str | None, canonical: set[str]) -> str | None:
    tag = normalize_tag(choice)
    if tag is None:
        return None
    # babel costs a Pi a noticeable import; only a request that needs negotiating pays for it.
    from babel import negotiate_locale

    found = normalize_tag(negotiate_locale(_truncations(tag), sorted(canonical), sep="-"))
    if found in canonical:
        return found
    if "-" not in tag:
        regional = sorted(a for a in canonical if a.split("-", 1)[0] == tag)
        if regional:
            return regional[0]
    return None
