"""No text from the LLM or the callee can add a TwiML verb or break the XML: every document parses,
and its element tree has exactly the shape its prompt promises, whatever the text. Every <Say>
speaks with the configured voice and language."""

from __future__ import annotations

import json
from xml.etree import ElementTree

from autocall.domain import prompts
from autocall.integrations.twilio import twiml
from autocall.models import prompts as steps
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.reliability import COUNTS

ATTACKS = [
    "</Say><Dial>+19005550000</Dial><Say>",
    "<Hangup/>",
    "]]><Redirect>https://evil.example/</Redirect><![CDATA[",
    '"/><Play>https://evil.example/a.mp3</Play><Say x="',
    "&lt;Dial&gt;&amp;#60;",
    "<?xml version='1.0'?><!DOCTYPE r [<!ENTITY x 'y'>]>&x;",
    "\x00\x01\x0b\x0c\x1b\ud7ff\ufffe\uffff",
    "<Say voice='man'>hi</Say>",
]
texts = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from("<>&'\"/=![]?;#x \x00\x0b\ufffeDialSayHangup")),
    st.lists(st.sampled_from(ATTACKS) | st.text(max_size=20), max_size=6).map("".join),
    st.text(min_size=1100, max_size=1500),
)
URL = "https://api.example.test/twilio/turn/c-1/3"
BASE = "https://api.example.test"
PROFILE = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def tree(document: str) -> ElementTree.Element:
    root = ElementTree.fromstring(document)  # raises on anything that is not well-formed XML
    assert root.tag == "Response"
    COUNTS["TwiML documents built from hostile text, parsed and checked (0 extra verbs)"] += 1
    return root


def shape(element: ElementTree.Element) -> list[tuple[str, list[str]]]:
    return [(child.tag, [grandchild.tag for grandchild in child]) for child in element]


def said(element: ElementTree.Element) -> str:
    assert len(element) == 0, "a <Say> holds text only"
    assert (element.get("voice"), element.get("language")) == (twiml.VOICE, steps.LANGUAGE)
    return element.text or ""


def render(prompt: steps.Prompt) -> str:
    return twiml.render(prompt, twiml.turn_urls(BASE, "c-1"))


@PROFILE
@given(text=texts)
@example(text=ATTACKS[0])
def test_say_and_gather_has_one_gather_one_say_and_the_redirect(text: str) -> None:
    root = tree(render(prompts.listen(text, 3)))
    assert shape(root) == [("Gather", ["Say"]), ("Redirect", [])]
    gather, redirect = root
    assert gather.attrib["action"] == URL == redirect.text and gather.attrib["input"] == "speech"
    assert said(gather[0]) == prompts.speakable(text) and len(said(gather[0])) <= prompts.MAX_SAY_CHARS


@PROFILE
@given(text=texts)
def test_say_and_hangup_says_the_text_then_hangs_up(text: str) -> None:
    root = tree(render(prompts.say_and_hang_up(text)))
    spoken = prompts.speakable(text)
    assert shape(root) == ([("Say", []), ("Hangup", [])] if spoken else [("Hangup", [])])
    if spoken:
        assert said(root[0]) == spoken


@PROFILE
@given(text=texts)
def test_transfer_dials_only_the_configured_number(text: str) -> None:
    root = tree(render(prompts.say_and_transfer(text, "+14155550100", "+15005550006")))
    assert [child.tag for child in root] == ["Say", "Dial", "Say", "Hangup"]
    dial = root[1]
    assert dial.text == "+14155550100" and dial.attrib["callerId"] == "+15005550006" and len(dial) == 0
    assert said(root[0]) == prompts.speakable(text)
    assert said(root[2]) == prompts.NOBODY_TO_TAKE_IT  # in the configured voice too, not Twilio's default


@PROFILE
@given(text=texts)
def test_voicemail_pauses_says_and_hangs_up(text: str) -> None:
    root = tree(render(prompts.voicemail(text)))
    assert [child.tag for child in root] == ["Pause", "Say", "Hangup"]
    assert said(root[1]) == prompts.speakable(text)


@PROFILE
@given(text=texts, number=st.integers(min_value=1, max_value=1000))
def test_a_stored_prompt_renders_the_same_document(text: str, number: int) -> None:
    """A turn stores its prompt; a repeated webhook is answered with the same bytes."""
    for prompt in (
        prompts.listen(text, number),
        prompts.say_and_hang_up(text),
        prompts.say_and_transfer(text, "+14155550100", "+15005550006"),
        prompts.voicemail(text),
    ):
        stored = json.loads(json.dumps(steps.to_data(prompt)))  # as DynamoDB gives it back
        assert render(steps.from_data(stored)) == render(prompt)
