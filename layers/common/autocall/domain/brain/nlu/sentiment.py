"""How a callee sounds: Vader's compound score and its label. The analyzer is created once per
process, on first use."""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def sentiment(text: str) -> tuple[str, float]:
    if not text.strip():
        return "neutral", 0.0
    score = float(_vader().polarity_scores(text)["compound"])
    label = "positive" if score >= 0.05 else "negative" if score <= -0.05 else "neutral"
    return label, round(score, 4)
