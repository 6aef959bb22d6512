"""What the callee hears, filled in: the values the playbook templates are filled with (names,
company, product, pains, dates) and the greeting every answered call starts with. Nothing from a
call's context is spoken as sent."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from autocall.config import get_settings
from autocall.domain.brain.contract import CallContext
from autocall.domain.brain.prompt_data import one_line
from autocall.domain.brain.purposes import Playbook

MAX_SPOKEN_NAME = 40
MAX_SPOKEN_COMPANY = 80


def first_name(ctx: CallContext) -> str:
    return one_line(ctx.contact_name.split()[0], MAX_SPOKEN_NAME) if ctx.contact_name.strip() else "there"


def disclosure_greeting(ctx: CallContext) -> str:
    """The first words of every answered call: who is calling, that it is an AI, and for whom."""
    return (
        f"Hi, this is {ctx.agent_name}, an automated AI assistant calling from {ctx.business_name}. "
        f"Am I speaking with {first_name(ctx)}?"
    )


def last_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s+", text.strip())[-1]


def _spoken_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _pains_line(pains: list[str]) -> str:
    if not pains:
        return ""
    verb = "is" if len(pains) == 1 else "are"
    return f"{_spoken_list(pains).capitalize()} {verb} exactly what we help with. "


def spoken_number(number: str) -> str:
    import phonenumbers

    try:
        parsed = phonenumbers.parse(number, "US")
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


def _catalogue_key(name: str) -> str:
    return re.sub(r"\s+", " ", name).strip().casefold()


def product_catalogue() -> dict[str, str]:
    """The product names the agent may say, by their comparison key (``PRODUCT_CATALOGUE``)."""
    names = (name.strip() for name in get_settings().product_catalogue.split(","))
    return {_catalogue_key(name): name for name in names if name}


def spoken_product(context: dict[str, Any], pb: Playbook) -> str:
    """What the agent calls the product: a call's ``product_interest`` (or ``product``) only when it
    names an entry of the configured catalogue, said as the catalogue spells it; anything else (a
    web form's free text included) gets the purpose's neutral wording, never read out as sent."""
    asked = context.get("product_interest") or context.get("product")
    if isinstance(asked, str):
        known = product_catalogue().get(_catalogue_key(asked))
        if known:
            return known
    return pb.product


def _spoken_date(value: Any) -> str | None:
    """'January 15' for an ISO date; None for anything else (free text is not read out)."""
    try:
        day = date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
    return f"{day:%B} {day.day}"


def fields(ctx: CallContext, pb: Playbook, mem: dict[str, Any]) -> dict[str, str]:
    """The values the playbook templates are filled with: what the callee hears. Context values are
    never spoken as sent: the product comes from the catalogue, a date only when it is one."""
    context = ctx.context
    pains = [p for p in mem.get("pains", []) if p]
    renewal = _spoken_date(context.get("renewal_date"))
    return {
        "first": first_name(ctx),
        "agent": ctx.agent_name,
        "business": ctx.business_name,
        "company": one_line(ctx.company, MAX_SPOKEN_COMPANY) if ctx.company else "your company",
        "product": spoken_product(context, pb),
        "label": pb.booking.label if pb.booking else "meeting",
        "duration": str(pb.booking.duration_minutes if pb.booking else 30),
        "pains": _pains_line(pains),
        "renewal": f" on {renewal}" if renewal else " soon",
    }
