"""Offline understanding of what a callee said: intents and keywords (``intents``), sentiment
(``sentiment``) and times (``times``), put together per utterance by ``understand``.

Pure functions, cheap enough to run on every turn; the Vader analyzer is created once per process,
when first needed. Understanding only: what may be booked is the booking policy's (``booking``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from autocall.domain.brain.nlu.intents import PROBLEM_CUE, detect_intents, extract_keywords, normalize
from autocall.domain.brain.nlu.sentiment import sentiment
from autocall.domain.brain.nlu.times import TimeMention, parse_time


@dataclass(frozen=True)
class Understanding:
    text: str
    intents: tuple[str, ...]
    keywords: tuple[str, ...]  # pain points first, then topics
    pain_points: tuple[str, ...]
    sentiment: str  # positive | neutral | negative
    sentiment_score: float  # Vader compound, -1..1
    time: TimeMention | None = None

    def has(self, *intents: str) -> bool:
        return any(i in self.intents for i in intents)


def understand(text: str, now: datetime, time_zone: str, first_name: str | None = None) -> Understanding:
    """Everything the brains need to know about one utterance."""
    intents = list(detect_intents(text, first_name))
    pains, keywords = extract_keywords(text)
    label, score = sentiment(text)
    mention = parse_time(text, now, time_zone)
    if mention is not None:
        intents.append("time_proposal")
    if pains and (PROBLEM_CUE.search(normalize(text)) or score <= -0.3):
        intents.append("pain_point")
    return Understanding(text, tuple(intents), keywords, pains, label, score, mention)
