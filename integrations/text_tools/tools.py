"""The text tools: pure functions with typed results, gathered into a pydantic-ai toolset."""

from __future__ import annotations

import base64
import difflib
import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Final, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from pydantic_ai.toolsets import FunctionToolset

MAX_TEXT: Final = 100_000
"""Characters per argument: enough for a long document, small enough for a Pi's CPU."""
MAX_ITEMS: Final = 100
WORDS_PER_MINUTE: Final = 230

Text = Annotated[str, Field(max_length=MAX_TEXT)]

_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
_SENTENCE_END = re.compile(r"[.!?…]+(?=\s|$)")
_URL = re.compile(r"\bhttps?://[^\s<>\"'`]+", re.IGNORECASE)
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_URL_TRAILING = ".,;:!?)]}'\""


class TextStatistics(BaseModel):
    """Counts for a text, and how long it takes to read."""

    characters: int
    characters_without_spaces: int
    words: int
    unique_words: int
    sentences: int
    lines: int
    paragraphs: int
    reading_time_seconds: int
    most_common_words: list[tuple[str, int]]


class TextDiff(BaseModel):
    """How a revised text differs from the original."""

    unified_diff: str
    lines_added: int
    lines_removed: int
    similarity: float = Field(description="0.0 (nothing in common) to 1.0 (identical)")
    identical: bool


class ExtractedReferences(BaseModel):
    """Links and e-mail addresses found in a text, in order of first appearance, without repeats."""

    urls: list[str]
    emails: list[str]
    truncated: bool = Field(description="True when more than the returned items were found")


class Slug(BaseModel):
    """A URL- and file-name-safe version of a text."""

    slug: str


class ConvertedCase(BaseModel):
    """A text in another letter case or naming convention."""

    text: str


class TextDigest(BaseModel):
    """A checksum of a text's UTF-8 bytes."""

    algorithm: str
    hex: str
    base64: str
    length_bytes: int


def text_statistics(
    text: Text, top_words: Annotated[int, Field(ge=0, le=50)] = 10
) -> TextStatistics:
    """Count characters, words, sentences, lines and paragraphs of a text and estimate its reading time.

    Args:
        text: The text to measure.
        top_words: How many of the most frequent words (of four letters or more) to list.
    """
    words = _WORD.findall(text)
    lowered = [word.lower() for word in words]
    frequent = Counter(word for word in lowered if len(word) >= 4).most_common(top_words)
    paragraphs = [block for block in re.split(r"\n\s*\n", text) if block.strip()]
    sentences = len(_SENTENCE_END.findall(text)) or (1 if words else 0)
    return TextStatistics(
        characters=len(text),
        characters_without_spaces=sum(not char.isspace() for char in text),
        words=len(words),
        unique_words=len(set(lowered)),
        sentences=sentences,
        lines=len(text.splitlines()),
        paragraphs=len(paragraphs),
        reading_time_seconds=round(len(words) * 60 / WORDS_PER_MINUTE),
        most_common_words=frequent,
    )


def text_diff(
    original: Text, revised: Text, context_lines: Annotated[int, Field(ge=0, le=20)] = 3
) -> TextDiff:
    """Compare two versions of a text line by line, as a unified diff with added/removed counts.

    Args:
        original: The earlier version.
        revised: The later version.
        context_lines: Unchanged lines to show around each change.
    """
    old, new = original.splitlines(), revised.splitlines()
    diff = list(difflib.unified_diff(old, new, "original", "revised", n=context_lines, lineterm=""))
    body = [line for line in diff[2:] if not line.startswith("@@")]
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    return TextDiff(
        unified_diff="\n".join(diff),
        lines_added=sum(line.startswith("+") for line in body),
        lines_removed=sum(line.startswith("-") for line in body),
        similarity=round(matcher.ratio(), 4),
        identical=original == revised,
    )


def text_extract_references(text: Text) -> ExtractedReferences:
    """Find the web links (http/https) and e-mail addresses in a text.

    Args:
        text: The text to search, e.g. an e-mail or a web page's text.
    """
    urls = _unique(match.rstrip(_URL_TRAILING) for match in _URL.findall(text))
    emails = _unique(match.lower() for match in _EMAIL.findall(text))
    return ExtractedReferences(
        urls=urls[:MAX_ITEMS],
        emails=emails[:MAX_ITEMS],
        truncated=len(urls) > MAX_ITEMS or len(emails) > MAX_ITEMS,
    )


def text_slugify(
    text: Annotated[str, Field(max_length=2000)],
    separator: Literal["-", "_"] = "-",
    max_length: Annotated[int, Field(ge=1, le=200)] = 80,
) -> Slug:
    """Turn a title into a lowercase ASCII slug for a URL or a file name ("Crème Brûlée!" → "creme-brulee").

    Args:
        text: The title or phrase.
        separator: The character between words.
        max_length: The longest slug to return; it is cut at a word boundary where possible.
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    slug = separator.join(words)
    if len(slug) > max_length:
        cut = slug[: max_length + 1].rsplit(separator, 1)[0]
        slug = cut if cut and len(cut) <= max_length else slug[:max_length]
    return Slug(slug=slug.strip(separator))


def text_change_case(
    text: Text,
    case: Literal["upper", "lower", "title", "sentence", "snake", "kebab", "camel", "pascal"],
) -> ConvertedCase:
    """Convert a text to another letter case, or to a naming convention such as snake_case or camelCase.

    Args:
        text: The text to convert.
        case: upper, lower, title, sentence (first letter of each sentence), snake, kebab, camel or pascal.
    """
    if case == "upper":
        return ConvertedCase(text=text.upper())
    if case == "lower":
        return ConvertedCase(text=text.lower())
    if case == "title":
        return ConvertedCase(text=_WORD.sub(lambda m: m[0][:1].upper() + m[0][1:].lower(), text))
    if case == "sentence":
        lowered = text.lower()
        converted = re.sub(r"(^|[.!?…]\s+)(\w)", lambda m: m[1] + m[2].upper(), lowered)
        return ConvertedCase(text=converted)
    words = [w.lower() for w in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])|\d+", text)]
    if case == "snake":
        return ConvertedCase(text="_".join(words))
    if case == "kebab":
        return ConvertedCase(text="-".join(words))
    capitalized = "".join(word.capitalize() for word in words)
    if case == "pascal":
        return ConvertedCase(text=capitalized)
    return ConvertedCase(text=capitalized[:1].lower() + capitalized[1:])


def text_hash(
    text: Text, algorithm: Literal["sha256", "sha512", "sha1", "md5", "blake2b"] = "sha256"
) -> TextDigest:
    """Compute a checksum of a text (its UTF-8 bytes), e.g. to compare two texts or verify a download.

    Args:
        text: The text to hash.
        algorithm: sha256 (default), sha512, blake2b, or the legacy sha1 / md5.
    """
    data = text.encode()
    digest = hashlib.new(algorithm, data, usedforsecurity=False).digest()
    return TextDigest(
        algorithm=algorithm,
        hex=digest.hex(),
        base64=base64.b64encode(digest).decode(),
        length_bytes=len(data),
    )


TOOLS: Final = (
    text_statistics,
    text_diff,
    text_extract_references,
    text_slugify,
    text_change_case,
    text_hash,
)


def build_toolset() -> FunctionToolset[None]:
    """The toolset the agent sees; pydantic-ai is imported here, on first use, not at start-up."""
    from pydantic_ai.toolsets import FunctionToolset

    # Pure text functions: read-only, so they run without asking for approval.
    return FunctionToolset(list(TOOLS), id="text_tools", metadata={"read_only": True})


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
