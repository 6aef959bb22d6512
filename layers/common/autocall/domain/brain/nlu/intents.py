"""What a callee's words mean: intents (opt out, wrong person, callback, interest ...), pain points and
topics. Regular expressions over the normalised text: cheap enough to run on every turn."""

from __future__ import annotations

import re

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
PROBLEM_CUE = re.compile(
    r"\btoo (high|much|slow|many)\b|\bneed better\b|\bstruggl|\bproblem|\bissue|\bchallenge|\bhard\b"
    r"|\bdifficult|\bpain|\bconcern|\bnot (working|syncing)\b|\bn't\b|\bbroke|\bworr"
)


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
