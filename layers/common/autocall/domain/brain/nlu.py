"""Offline understanding of what a callee said: intents, keywords, sentiment and times.

Pure functions, cheap enough to run on every turn. The two slow pieces are created lazily and
only when needed: the Vader analyzer once per process, and dateparser (milliseconds a call) only
for a day the direct rules do not resolve: weekdays, "tomorrow", "March 10" and "in 20 minutes" are
computed as dateparser resolves them, without it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

# --- intents ---------------------------------------------------------------------------------------

_INTENT_PATTERNS: dict[str, tuple[str, ...]] = {
    "opt_out": (
        r"\bstop (calling|contacting|ringing)\b",
        r"\b(take|remove|delete) (me|us|my number|this number|my name)\b.{0,25}\b(off|from)\b",
        r"\bdo not call\b|\bdon't (ever )?call (me|us|here)\b|\bnever call\b|\bunsubscribe\b",
        r"\bno more calls\b|\blose my number\b",
    ),
    "wrong_person": (
        r"\bwrong (number|person)\b",
        r"\b(no ?one|nobody) (here )?(by|with|named|called) that name\b",
        r"\b(doesn't|does not) (live|work) here\b|\bnever heard of (him|her|them)\b",
    ),
    "manipulation_attempt": (
        r"\b(ignore|forget|disregard|override|bypass)\b.{0,30}\b(instructions?|rules|prompt|programming|guidelines)\b",
        r"\bsystem prompt\b|\bdeveloper mode\b|\bjailbreak\b|\bpretend (you are|to be)\b",
        r"\b(mark|set|flag|list|record|log|make|put|upgrade)\b.{0,20}\b(me|us|my account|my status"
        r"|my record)\b"
        r".{0,12}\b(as|to|a)\b.{0,20}\b(qualified|lead|vip|priority|customer|approved|paid|hot)\b",
        r"\b(change|update|edit)\b.{0,15}\b(my|our|the) (record|records|status|lead status|crm"
        r"|account status)\b",
        r"\b(last|previous|prior|other|earlier|next) (caller|person|customer|client|contact|call)s?('s|s')?\b"
        r".{0,40}\b(number|phone|name|email|address|details|info|information|data)\b",
        r"\b(read|tell|give|share|send)\b.{0,10}\bme\b.{0,30}\b(someone|somebody|other|another|everyone|all)\b"
        r".{0,30}\b(number|phone|email|address|data|details|contacts)\b",
        r"\bwho else (did )?you (call|called)\b",
    ),
    "gatekeeper": (
        r"\bfront desk\b|\breception\b|\breceptionist\b|\bcan i take a message\b",
        r"\bhow (can|may) i (help|direct)\b|\bwho should i say\b",
        r"(?<!i'm )(?<!i am )\b(not available|unavailable|stepped out|out of the office"
        r"|away from (his|her) desk)\b",
    ),
    "take_message": (  # a receptionist's offer, not a callee's "let me take a note"
        r"\b(can|could|shall|may|should) i take a (message|note)\b",
        r"\b(want|like|wish) to leave (a|him a|her a|them a) message\b|\bleave (him|her|them) a message\b",
    ),
    "callback_request": (
        r"\bcall (me |us )?(back|again|later)\b|\bcall back\b|\bring (me )?back\b",
        r"\b(bad|not a good|busy|inconvenient) time\b|\bcan't talk\b|\bcannot talk\b",
        r"\b(i'm|i am|we're|we are) (busy|driving|in a meeting|in the middle of|not available)\b",
        r"\btry (me |again )?(later|tomorrow|next)\b|\b(reach|catch) me (later|tomorrow|next|on|at)\b",
    ),
    "ask_robot": (
        r"\b(are|r) (you|u) (a |an )?(robot|bot|machine|computer|ai|real|human|person|recording|automated)\b",
        r"\b(is this|am i (talking|speaking) (to|with)) (a |an )?(robot|bot|machine|computer|ai|real person|"
        r"human|recording|person)\b",
        r"\bartificial intelligence\b",
    ),
    "ask_human": (
        r"\b(speak|talk) (to|with) (a |an )?(human|real person|person|someone|somebody|agent|representative|"
        r"manager|supervisor)\b",
        r"\b(get|put) me (through )?to (a |an )?(human|person|manager|supervisor)\b",
    ),
    "ask_identity": (r"\bwho (is this|are you|is calling|'s calling|'s this)\b", r"\bwhat company\b"),
    "ask_purpose": (
        r"\bwhat('s| is) (this|it) (about|regarding|for)\b|\bwhy are you calling\b|\bwhat do you want\b",
    ),
    "ask_price": (
        r"\bhow much\b|\bwhat does it cost\b",
        r"\bwhat('s| is| are) (the|your) (price|pricing|prices|cost|rates?)\b",
    ),
    "greeting_confirm": (
        r"\bspeaking\b|\b(this is|it's) (me|him|her|he|she)\b",
        r"^\W*(yes|yeah|yep|hi|hello)?\W*(this is|it's) [a-z]+\W*$",
    ),
    "hello": (r"^\W*(hello|hi|hey|hiya|good (morning|afternoon|evening))\W*$",),
    "not_interested": (
        r"\bnot interested\b|\bno interest\b|\bnot for (us|me)\b|\b(we'll|i'll) pass\b",
        r"\b(don't|do not|doesn't) (need|want) (it|this|that|your|any|anything)\b",
        r"\bno,? thank(s| you)\b",
        r"\bhappy with (what we have|our current|the current|our existing|our (provider|vendor"
        r"|solution|setup|"
        r"system))\b",
    ),
    "interest": (
        r"\blooking (at|for|into)\b|(?<!not )\binterested\b|\bwe (need|want)\b|\bupgrad|\bmigrat",
        r"\bconsidering\b|\bsounds (good|great|interesting)\b|\btell me more\b|\bhow does (it|that) work\b",
    ),
    "agree": (
        r"^\W*(yes|yeah|yep|yup|sure|ok|okay|of course|absolutely|definitely|correct|right|exactly|perfect|"
        r"great|fine|alright|please do|go ahead)\b",
        r"\b(that's|that is) (right|correct|fine|good|great|perfect|confirmed)\b|\bsounds (good|great)\b",
        r"\bworks for me\b|\bthat works\b|\bwould be (helpful|great|good|nice)\b|\byes,? please\b"
        r"|\bplease do\b",
    ),
    "decline": (
        r"^\W*(no|nope|nah|not really)\b",
        r"\b(that's|that is) (wrong|not right|incorrect)\b|\b(doesn't|does not|won't) work\b|\bcan't make\b",
    ),
    "nothing_else": (r"\b(that's|that is|that'll be) (all|it)\b|\bnothing else\b",),
    "price_objection": (
        r"\b(too|very|so) (expensive|pricey|costly)\b|\bprice (increase|hike|went up|going up)\b",
        r"\b(price|pricing)\b.{0,30}\b(problem|issue|high|steep|concern|much)\b",
        r"\bcan('t|not) afford\b|\b(over|out of|outside) (our |the )?budget\b",
        r"\bdiscount\b|\bcheaper\b|\bbetter (price|deal|rate)\b|\bsomething (on|about|with) the price\b",
    ),
    "competitor": (
        r"\b(other|another|different|alternative) (vendors?|providers?|suppliers?|solutions?|options"
        r"|companies)\b",
        r"\bcompetitors?\b|\bswitch(ing)? to\b|\bshopping around\b|\bbetter offer\b",
    ),
    "renew": (
        r"\b(like|want|ready|happy|going|plan|planning) to renew\b|\brenew (it|the|our|my)\b|\blet's renew\b",
        r"\bsign (us|me) up (again|for another)\b",
    ),
    "negotiate": (
        r"\bif you (can|could) (do|give|offer|lower|match|bring)\b|\bconsider(ing)? renew",
        r"\bnegotiat|\bmeet (us )?(halfway|in the middle)\b|\bwhat can you (do|offer)\b",
    ),
    "cancel": (r"\bcancel\b|\b(won't|will not|not going to|don't want to) renew\b|\bmoving away\b",),
    "problem_unresolved": (
        r"(\bnot|n't|\bnever) (working|syncing|loading|fixed|resolved|solved|showing|updating|connecting)\b",
        r"\b(broke|broken|crash(es|ed|ing)?|fail(s|ed|ing)?|error|bug|stopped working)\b",
        r"\b(issue|problem)s? (with|since)\b|\bstill\b.{0,20}\b(wrong|down|slow)\b",
    ),
    "problem_resolved": (
        r"\b(working|works) (fine|great|well|perfectly|now|again)\b",
        r"\b(all|everything)('s| is)? (good|fine|working|sorted|resolved|fixed)\b",
        r"\b(it's|it is|that's|that is|been|got) (fixed|resolved|sorted|solved)\b"
        r"|\bno (more )?(issues|problems)\b",
        r"\bthat (fixed|solved|worked|did it)\b",
    ),
    "frustration": (
        r"\bfrustrat|\bunacceptable\b|\bridiculous\b|\b(angry|furious|annoyed|fed up|sick of|tired of)\b",
        r"\b(terrible|awful|worst|useless)\b",
    ),
    "repeat_issue": (
        r"\b(second|third|fourth|fifth|another|umpteenth) time\b|\bagain and again\b",
        r"\bkeeps (happening|breaking|failing)\b|\bnobody (has )?(fixed|helped|called|got back)\b",
    ),
    "ask_proposal": (
        r"\bproposal\b|\bquote\b|\b(send|email) (me |us )?(a |the )?(pricing|contract|offer|details|info)\b",
    ),
    "concern": (r"\bconcern(ed|s)?\b|\bworr(y|ied)\b|\bnot sure\b|\bhesita|\brisk(y)?\b",),
    "goodbye": (
        r"\b(bye|goodbye|good bye|bye-bye)\b|\bhave a (good|nice|great) (day|one)\b",
        r"\b(gotta|got to|have to) go\b",
    ),
    "thanks": (r"\bthank(s| you)\b",),
}
_INTENTS = {name: re.compile("|".join(f"(?:{p})" for p in pats)) for name, pats in _INTENT_PATTERNS.items()}

# Pain points and topics: canonical keyword -> pattern.
PAIN_POINTS: dict[str, str] = {
    "cost": r"\bcosts?\b|\bexpensive\b|\bspend(ing)?\b|\bbudget\b|\bprice\b|\bpricing\b",
    "scalability": r"\bscal(e|able|ability|ing)\b|\bgrowth\b|\bcapacity\b|\bpeak (load|traffic)\b",
    "maintenance": r"\bmaintenance\b|\bmaintain\b|\bupkeep\b|\bpatch(es|ing)?\b|\blegacy\b|\boutdated\b",
    "security": r"\bsecur(e|ity)\b|\bbreach\b|\bcompliance\b|\bvulnerab|\bhack",
    "billing": r"\bbilling\b|\binvoices?\b|\bpayments?\b|\bcharged?\b",
    "integration": r"\bintegrat|\bsync(ing|ed)?\b|\bapi\b|\bdashboard\b",
    "performance": r"\bslow\b|\bperformance\b|\blatency\b|\bspeed\b",
    "reliability": r"\bdowntime\b|\boutages?\b|\bcrash|\bunstable\b|\breliab",
    "implementation": r"\bimplementation\b|\bonboarding\b|\bset ?up time\b|\brollout\b",
    "usability": r"\bcomplicated\b|\bhard to use\b|\bconfusing\b|\busability\b",
}
TOPICS: dict[str, str] = {
    "upgrading": r"\bupgrad",
    "infrastructure": r"\binfrastructure\b",
    "migration": r"\bmigrat",
    "cloud": r"\bcloud\b",
    "renewal": r"\brenew",
    "proposal": r"\bproposal\b",
    "demo": r"\bdemo\b",
}
_PAIN = {k: re.compile(v) for k, v in PAIN_POINTS.items()}
_TOPIC = {k: re.compile(v) for k, v in TOPICS.items()}
_PROBLEM_CUE = re.compile(
    r"\btoo (high|much|slow|many)\b|\bneed better\b|\bstruggl|\bproblem|\bissue|\bchallenge|\bhard\b"
    r"|\bdifficult|\bpain|\bconcern|\bnot (working|syncing)\b|\bn't\b|\bbroke|\bworr"
)


@dataclass(frozen=True)
class TimeMention:
    """A moment the callee named, resolved in their zone."""

    at: datetime  # tz-aware, in the callee's zone
    exact: bool  # a clock time was said ("at 2 pm"), not only a day or a part of the day
    text: str  # the words it came from


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


def normalize(text: str) -> str:
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    return re.sub(r"\s+", " ", text).strip()


def detect_intents(text: str, first_name: str | None = None) -> tuple[str, ...]:
    t = normalize(text)
    found = [name for name, rx in _INTENTS.items() if rx.search(t)]
    if first_name and "greeting_confirm" not in found:
        name = re.escape(first_name.lower())
        if re.search(rf"\b(this is|it's|i'm|i am) {name}\b|^\W*(yes\W+)?{name} (here|speaking)\b", t):
            found.append("greeting_confirm")
    if "nothing_else" in found and "decline" in found:
        found.remove("decline")  # "No, that's all" closes the call, it does not reject anything
    if "ask_robot" in found and "ask_human" in found:
        found.remove("ask_human")  # "am I talking to a real person?" is a question, not a request
    return tuple(found)


def extract_keywords(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(pain points, all keywords) found in the text, canonical names, in a stable order."""
    t = normalize(text)
    pains = tuple(k for k, rx in _PAIN.items() if rx.search(t))
    topics = tuple(k for k, rx in _TOPIC.items() if rx.search(t))
    return pains, pains + topics


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


# --- times -----------------------------------------------------------------------------------------

_WEEKDAY = r"(monday|tuesday|tues|wednesday|thursday|thurs|friday|saturday|sunday)"
_MONTH = (
    r"(january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr"
    r"|jun|jul|aug|sept|sep|oct|nov|dec)"
)
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip
_HOUR = r"(\d{1,2}|" + "|".join(_NUMBER_WORDS) + r")"
_DAY_RX = re.compile(
    rf"\b(day after tomorrow|today|tonight|tomorrow|next week|(next |this )?{_WEEKDAY}|{_MONTH}\.? \d{{1,2}}"
    r"(st|nd|rd|th)?|the \d{1,2}(st|nd|rd|th))\b"
)
_NOT_A_TIME = r"(?! (minutes?|hours?|days?|weeks?|months?|years?|people|percent|point|of|more|time|thing)\b)"
_CLOCK_RX = re.compile(
    rf"\b(?:(?:at|around|about|by|after) )?(?P<h1>{_HOUR[1:-1]})(?::(?P<m1>\d{{2}}))? ?"
    r"(?P<s1>a\.?m\.?|p\.?m\.?|o'?clock)(?!\w)"
    rf"|\b(?:at|around|about|by|after) (?P<h2>{_HOUR[1:-1]})(?::(?P<m2>\d{{2}}))?\b{_NOT_A_TIME}"
    r"|\b(?P<h3>\d{1,2}):(?P<m3>\d{2})\b|\b(?P<noon>noon|midday)\b"
)
_PART_RX = re.compile(r"\b(morning|afternoon|evening|tonight|lunch ?time|end of (the )?day)\b")
_RELATIVE_RX = re.compile(r"\bin (an?|\d+|" + "|".join(_NUMBER_WORDS) + r") (minutes?|hours?)\b")
_PART_HOURS = {"morning": 10, "afternoon": 14, "evening": 18, "tonight": 19, "lunch": 12, "end": 16}


@lru_cache(maxsize=1)
def _dateparser() -> Any:
    import dateparser

    return dateparser


def _parse_with_dateparser(expression: str, local_now: datetime) -> datetime | None:
    settings = {"RELATIVE_BASE": local_now.replace(tzinfo=None), "PREFER_DATES_FROM": "future"}
    parsed = _dateparser().parse(expression, settings=settings, languages=["en"])
    return parsed if isinstance(parsed, datetime) else None


def _in_so_long(match: re.Match[str], local_now: datetime) -> datetime | None:
    """'in 20 minutes', 'in an hour': as dateparser reads them (on the naive local clock), directly;
    None for a moment past the calendar's end, as dateparser."""
    amount, unit = match.group(1), match.group(2)
    count = 1 if amount in ("a", "an") else _hour_of(amount)
    try:
        delta = timedelta(hours=count) if unit.startswith("hour") else timedelta(minutes=count)
        return local_now.replace(tzinfo=None) + delta
    except OverflowError:
        return None


def _hour_of(token: str) -> int:
    return _NUMBER_WORDS.get(token) or int(token)


def _clock(t: str) -> tuple[int, int] | None:
    m = _CLOCK_RX.search(t)
    if not m:
        return None
    if m.group("noon"):
        return 12, 0
    if m.group("h1"):
        hour, minute, suffix = (
            _hour_of(m.group("h1")),
            int(m.group("m1") or 0),
            m.group("s1").replace(".", ""),
        )
        if suffix.startswith("p") and hour < 12:
            hour += 12
        elif suffix.startswith("a") and hour == 12:
            hour = 0
        elif suffix.startswith("o") and 1 <= hour <= 7:
            hour += 12
        return (hour, minute) if hour < 24 and minute < 60 else None
    hour_txt, minute_txt = (m.group("h2"), m.group("m2")) if m.group("h2") else (m.group("h3"), m.group("m3"))
    hour, minute = _hour_of(hour_txt), int(minute_txt or 0)
    if 1 <= hour <= 7:  # "Tuesday at 3": nobody books 3 in the morning
        hour += 12
    return (hour, minute) if hour < 24 and minute < 60 else None


def _day(day_text: str, local_now: datetime) -> date | None:
    today = local_now.date()
    if day_text in ("today", "tonight"):
        return today
    if day_text == "next week":
        return today + timedelta(days=7 - today.weekday())
    ordinal = re.fullmatch(r"the (\d{1,2})(st|nd|rd|th)", day_text)
    if ordinal:
        dom = int(ordinal.group(1))
        for months_ahead in range(3):
            year, month = (
                today.year + (today.month - 1 + months_ahead) // 12,
                (today.month - 1 + months_ahead) % 12 + 1,
            )
            try:
                candidate = date(year, month, dom)
            except ValueError:
                continue
            if candidate >= today:
                return candidate
        return None
    expression = re.sub(r"\bthurs\b", "thursday", re.sub(r"\btues\b", "tuesday", day_text))
    named = _calendar_day(expression, today)
    if named is not None:
        return named
    parsed = _parse_with_dateparser(expression, local_now)
    return parsed.date() if parsed else None


_WEEKDAY_NUMBER = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5,
                   "sunday": 6}  # fmt: skip
_MONTH_NUMBER = {name: number for number, names in enumerate(
    [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
     ("july", "jul"), ("august", "aug"), ("september", "sept", "sep"), ("october", "oct"),
     ("november", "nov"), ("december", "dec")], start=1) for name in names}  # fmt: skip
_NAMED_DAY_RX = re.compile(
    rf"(?P<rel>day after tomorrow|tomorrow)|(?:(?P<this>this )|next )?(?P<weekday>{_WEEKDAY})"
    rf"|(?P<month>{_MONTH})\.? (?P<dom>\d{{1,2}})(?:st|nd|rd|th)?"
)


def _calendar_day(expression: str, today: date) -> date | None:
    """The day a plain expression names, as dateparser resolves it (future preferred), computed
    directly: dateparser takes milliseconds a call. None when it is not one of these expressions
    (or not a real date): dateparser decides then."""
    m = _NAMED_DAY_RX.fullmatch(expression)
    if m is None:
        return None
    if m.group("rel"):
        return today + timedelta(days=2 if m.group("rel") == "day after tomorrow" else 1)
    if m.group("weekday"):
        ahead = (_WEEKDAY_NUMBER[m.group("weekday")] - today.weekday()) % 7
        return today + timedelta(days=ahead if ahead or m.group("this") else 7)
    try:
        day = date(today.year, _MONTH_NUMBER[m.group("month")], int(m.group("dom")))
        return day if day > today else date(today.year + 1, day.month, day.day)
    except ValueError:
        return None


def parse_time(text: str, now: datetime, time_zone: str) -> TimeMention | None:
    """The moment named in ``text``, resolved relative to ``now`` in ``time_zone``; None if none."""
    t = re.sub(r"\bgood (morning|afternoon|evening)\b", "", normalize(text))
    day_m, clock, part_m, rel_m = _DAY_RX.search(t), _clock(t), _PART_RX.search(t), _RELATIVE_RX.search(t)
    if not (day_m or clock or rel_m or (part_m and re.search(r"\b(this|in the|tomorrow)\b", t))):
        return None
    zone = ZoneInfo(time_zone)
    local_now = now.astimezone(zone)
    if rel_m and not day_m:
        parsed = _in_so_long(rel_m, local_now)
        if parsed is None:
            return None
        return TimeMention(parsed.replace(tzinfo=zone), True, rel_m.group(0))
    day_text = day_m.group(0) if day_m else ""
    day = _day(day_text, local_now) if day_m else local_now.date()
    if day is None:
        return None
    if clock:
        hour, minute = clock
    elif part_m:
        hour, minute = _PART_HOURS[part_m.group(1).split()[0].replace("lunchtime", "lunch")], 0
    else:
        hour, minute = (19 if day_text == "tonight" else 10), 0
    at = datetime.combine(day, time(hour, minute), tzinfo=zone)
    if at <= local_now and not day_m:
        at += timedelta(days=1)  # "at 3" said after three means tomorrow
    elif at <= local_now and day_m and re.search(_WEEKDAY, day_text):
        at += timedelta(days=7)
    words = " ".join(dict.fromkeys(m.group(0) for m in (day_m, _CLOCK_RX.search(t), part_m) if m))
    return TimeMention(at, clock is not None, words)


# --- the whole utterance ---------------------------------------------------------------------------


def understand(text: str, now: datetime, time_zone: str, first_name: str | None = None) -> Understanding:
    """Everything the brains need to know about one utterance."""
    intents = list(detect_intents(text, first_name))
    pains, keywords = extract_keywords(text)
    label, score = sentiment(text)
    mention = parse_time(text, now, time_zone)
    if mention is not None:
        intents.append("time_proposal")
    if pains and (_PROBLEM_CUE.search(normalize(text)) or score <= -0.3):
        intents.append("pain_point")
    return Understanding(text, tuple(intents), keywords, pains, label, score, mention)


# --- slots and spoken times ------------------------------------------------------------------------

BOOKING_DAY_START = time(8, 0)
BOOKING_DAY_END = time(18, 0)
BOOKING_HORIZON = timedelta(days=90)


def slot_problem(start: datetime, duration_minutes: int, now: datetime, time_zone: str) -> str | None:
    """Why a meeting slot cannot be booked, or None when it can (weekday, 08:00-18:00 local, future)."""
    if start.tzinfo is None:
        return "no time zone"
    local = start.astimezone(ZoneInfo(time_zone))
    end = local + timedelta(minutes=duration_minutes)
    if start <= now:
        return "in the past"
    if start - now > BOOKING_HORIZON:
        return "too far ahead"
    if local.weekday() >= 5:
        return "on a weekend"
    if local.time() < BOOKING_DAY_START or end.time() > BOOKING_DAY_END or end.date() != local.date():
        return "outside business hours"
    return None


def callback_problem(at: datetime, now: datetime) -> str | None:
    if at.tzinfo is None:
        return "no time zone"
    if at <= now:
        return "in the past"
    if at - now > BOOKING_HORIZON:
        return "too far ahead"
    return None


def next_business_slot(now: datetime, time_zone: str, hour: int = 10, after: date | None = None) -> datetime:
    """The next weekday after today (or after ``after``) at ``hour``:00 in the callee's zone."""
    zone = ZoneInfo(time_zone)
    day = after or now.astimezone(zone).date()
    while True:
        day += timedelta(days=1)
        if day.weekday() < 5:
            return datetime.combine(day, time(hour, 0), tzinfo=zone)


def spoken_time(at: datetime, time_zone: str, now: datetime | None = None) -> str:
    """'tomorrow at 4 PM', 'Tuesday, March 10 at 2:30 PM' - in the callee's zone, for speech."""
    local = at.astimezone(ZoneInfo(time_zone))
    hour12 = local.hour % 12 or 12
    clock = f"{hour12}:{local.minute:02d}" if local.minute else f"{hour12}"
    clock += " PM" if local.hour >= 12 else " AM"
    if now is not None:
        today = now.astimezone(ZoneInfo(time_zone)).date()
        if local.date() == today:
            return f"today at {clock}"
        if local.date() == today + timedelta(days=1):
            return f"tomorrow, {local:%A} at {clock}"
    return f"{local:%A}, {local:%B} {local.day} at {clock}"
