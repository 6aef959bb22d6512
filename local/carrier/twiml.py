"""TwiML documents as the simulator executes them: a list of verbs with attributes and nested verbs."""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree import ElementTree


class TwimlError(ValueError):
    """The document is not TwiML Twilio would run (Twilio error 12100)."""


@dataclass(frozen=True)
class Verb:
    name: str  # Say, Play, Pause, Gather, Redirect, Hangup, Dial, ...
    text: str = ""
    attrs: dict[str, str] = field(default_factory=dict)
    children: tuple[Verb, ...] = ()

    def flag(self, attr: str) -> bool:
        return self.attrs.get(attr, "").strip().lower() == "true"

    def number(self, attr: str, default: float) -> float:
        try:
            return float(self.attrs.get(attr, default))
        except ValueError:
            return default

    @property
    def dial_target(self) -> str:
        """The number (or client/sip address) a <Dial> connects to."""
        nested = [child.text for child in self.children if child.text]
        return nested[0] if nested else self.text


def parse_twiml(document: str) -> list[Verb]:
    """The verbs of a ``<Response>`` document, in order."""
    try:
        # The documents come from the voice app under test; stdlib expat does not fetch external entities.
        root = ElementTree.fromstring(document.strip())  # noqa: S314
    except ElementTree.ParseError as exc:
        raise TwimlError(f"not XML: {exc}") from exc
    if root.tag != "Response":
        raise TwimlError(f"root element is <{root.tag}>, not <Response>")
    return [_verb(element) for element in root]


def _verb(element: ElementTree.Element) -> Verb:
    text = " ".join("".join(element.itertext()).split()) if element.tag == "Say" else (element.text or "")
    children = () if element.tag == "Say" else tuple(_verb(child) for child in element)
    return Verb(element.tag, text.strip(), dict(element.attrib), children)
