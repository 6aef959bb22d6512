"""Which brain runs the calls: the LLM when an OpenAI key is configured, else the playbook."""

from __future__ import annotations

from functools import lru_cache

from autocall.domain.brain.contract import Brain
from autocall.domain.brain.engine import PlaybookBrain


@lru_cache(maxsize=1)
def get_brain() -> Brain:
    from autocall.secrets import get_secret

    api_key = get_secret("openai_api_key").strip()
    if api_key:
        from autocall.domain.brain.llm.brain import LlmBrain

        return LlmBrain(api_key=api_key)
    return PlaybookBrain()


def reset_brain() -> None:
    """Forget the chosen brain (tests and the local stack change the environment)."""
    get_brain.cache_clear()
