"""The table pydantic-ai reads token counts from: chat completions only, without the price list.

pydantic-ai reads every response's token counts through genai-prices, and loads genai-prices'
bundled table of every provider's models and prices (1.6 MB of source, ~5 MB resident for the
life of the process) when the first model is built. The hub shows no prices and speaks only the
chat-completions API, so it installs a table of one provider that says where such a response
reports its tokens: the counts stay what they were, a cost is never computed.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from genai_prices.data_snapshot import DataSnapshot

_LOGGER = logging.getLogger(__name__)


@functools.cache  # genai-prices keeps its table process-wide: once is enough
def install() -> None:
    """Install the small table before the first model is built."""
    try:
        snapshot = _snapshot()
    except (ImportError, TypeError, ValueError) as err:  # another genai-prices: keep its own
        _LOGGER.debug("Keeping genai-prices' bundled table: %s", err)
        return
    from genai_prices.data_snapshot import set_custom_snapshot

    set_custom_snapshot(snapshot)


def _snapshot() -> DataSnapshot:
    from genai_prices.data_snapshot import DataSnapshot
    from genai_prices.types import Provider, UsageExtractor, UsageExtractorMapping

    def token(path: str | list[str], dest: str, *, required: bool = False) -> UsageExtractorMapping:
        return UsageExtractorMapping(path=path, dest=dest, required=required)

    # Where a chat-completions response reports its tokens: genai-prices' own OpenAI "chat"
    # extractor. pydantic-ai looks a provider up by the endpoint's URL, then by the name "openai".
    chat = UsageExtractor(
        root="usage",
        mappings=[
            token("prompt_tokens", "input_tokens", required=True),
            token(["prompt_tokens_details", "cached_tokens"], "cache_read_tokens"),
            token(["prompt_tokens_details", "cache_write_tokens"], "cache_write_tokens"),
            token(["prompt_tokens_details", "audio_tokens"], "input_audio_tokens"),
            token(["completion_tokens_details", "audio_tokens"], "output_audio_tokens"),
            token(["completion_tokens_details", "reasoning_tokens"], "output_reasoning_tokens"),
            token("completion_tokens", "output_tokens", required=True),
        ],
        api_flavor="chat",
        model_path="model",
    )
    provider = Provider(
        id="openai", name="OpenAI", api_pattern=r"https://api\.openai\.com", extractors=[chat]
    )
    return DataSnapshot(providers=[provider], from_auto_update=False)
