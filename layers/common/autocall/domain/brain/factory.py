"""Which brain runs the calls: the LLM when an OpenAI key is configured, else the playbook."""

from __future__ import annotations

from functools import lru_cache

from autocall.domain.brain.contract import Brain
from autocall.domain.brain.engine import PlaybookBrain


def get_brain() -> Brain:
    """The brain for the OpenAI key configured now (one per key: a key set, rotated or removed
    picks the brain again, without a hook to forget the old one)."""
    from autocall.secrets import get_secret

    return _brain(get_secret("openai_api_key").strip())


@lru_cache(maxsize=4)
def _brain(api_key: str) -> Brain:
    if api_key:
        from autocall.domain.brain.llm.brain import LlmBrain

        return LlmBrain(api_key=api_key)
    return PlaybookBrain()
