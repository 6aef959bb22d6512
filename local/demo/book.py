"""The demo's contact book: thirty people across US and international time zones, each answering
the phone as one persona of ``local.personas``, reached through every kind of trigger.

The time zone comes from the number (phonenumbers) unless a contact gives one. At the demo's start
(a Wednesday, 12:00 in New York) every callee is inside the 09:00-20:00 window except Anchorage,
whose call waits for 09:00 there: the dialer's calling-window guard at work.

The single and scheduled triggers talk in realtime voice mode (ConversationRelay, streamed replies);
the rest in Gather mode, so one run shows both side by side (the report names each call's mode)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from local.personas import PERSONAS, expected_outcome

Trigger = Literal["campaign", "single", "bulk", "scheduled", "form"]
TRIGGERS: tuple[Trigger, ...] = ("campaign", "single", "bulk", "scheduled", "form")
REALTIME_TRIGGERS: frozenset[Trigger] = frozenset({"single", "scheduled"})

DEMO_START = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)  # Wednesday: 12:00 New York, 09:00 Los Angeles
CAMPAIGN_TAG = "demo-q1-cloud"
CAMPAIGN_PURPOSE = "sales_outreach"
CAMPAIGN_CONTEXT = {
    "product_interest": "Cloud Suite",
    "campaign": "Q1 cloud migration",
    "urgency": "high",
    "budget_range": "$10k-50k",
}


@dataclass(frozen=True)
class DemoContact:
    name: str
    company: str
    phone: str  # E.164
    persona: str
    purpose: str
    trigger: Trigger
    time_zone: str | None = None  # None: from the number
    email: str | None = None
    delay_minutes: int = 0  # bulk: delay_minutes; scheduled: minutes after the demo's start
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def first_name(self) -> str:
        return self.name.split()[0]

    @property
    def expected_outcome(self) -> str | None:
        return expected_outcome(self.persona, self.purpose)

    @property
    def voice_mode(self) -> str:
        return "realtime" if self.trigger in REALTIME_TRIGGERS else "gather"


def _c(
    name: str, company: str, phone: str, persona: str, purpose: str, trigger: Trigger, **extra: Any
) -> DemoContact:
    email = f"{name.split()[0].lower()}@{company.split()[0].lower()}.example"
    return DemoContact(name, company, phone, persona, purpose, trigger, email=email, **extra)


SALES = "sales_outreach"
BOOK: tuple[DemoContact, ...] = (
    # --- the campaign: Q1 cloud migration outreach (sales_outreach), one minute apart
    _c("Dana Whitfield", "Northwind Logistics", "+16465550142", "interested_buyer", SALES, "campaign"),
    _c("Marcus Oyelaran", "Brightline Health", "+17735550178", "interested_buyer", SALES, "campaign"),
    _c("Priya Raman", "Cobalt Analytics", "+16285550123", "busy_call_me_back", SALES, "campaign"),
    _c("Tom Becker", "Helios Freight", "+17205550131", "not_interested", SALES, "campaign"),
    _c("Laura Chen", "Pinecrest Dental", "+12065550164", "opt_out", SALES, "campaign"),
    _c("Jake Moreno", "Redwood Builders", "+16025550119", "voicemail", SALES, "campaign"),
    _c("Olivia Grant", "Summit Retail", "+14045550157", "no_answer", SALES, "campaign"),
    _c("Ethan Brooks", "Lakeside Legal", "+16175550186", "busy", SALES, "campaign"),
    _c("Sofia Alvarez", "Mesa Foods", "+17135550193", "wrong_person", SALES, "campaign"),
    _c("Noah Fischer", "Keystone Insurance", "+12155550108", "robot_question", SALES, "campaign"),
    _c("Grace Kim", "Harbor Capital", "+13055550171", "gatekeeper", SALES, "campaign"),
    _c("Rafael Costa", "Atlantico Software", "+5511987650123", "manipulator", SALES, "campaign"),
    _c("Hannah Mueller", "Rheinwerk GmbH", "+493090182744", "not_interested", SALES, "campaign"),
    _c("Ava Thompson", "Maple Systems", "+14165550134", "interested_buyer", SALES, "campaign"),
    # --- single triggers: proactive support calls
    _c("Kevin Walsh", "Ironclad Manufacturing", "+13135550129", "angry", "customer_support", "single",
       context={"ticket": "billing sync failure", "severity": "high"}),
    _c("Giulia Rossi", "Officine Rossi", "+390272094311", "support_unresolved", "customer_support", "single",
       context={"ticket": "invoice sync"}),
    _c("Ben Carter", "Lone Star Clinics", "+15125550166", "support_resolved", "customer_support", "single",
       context={"ticket": "login issue"}),
    _c("Erin Halvorsen", "Northern Lights Air", "+19075550112", "support_resolved", "customer_support",
       "single", time_zone="America/Anchorage", context={"ticket": "report export"}),
    # --- one bulk request: follow-ups and appointment booking
    _c("Chloe Martin", "Lumen Media", "+14165550187", "follow_up_proposal", "follow_up", "bulk",
       context={"last_call": "discovery", "product_interest": "Cloud Suite", "deal_value": 36000}),
    _c("Daniel Park", "Pacific Robotics", "+13105550145", "follow_up_objection", "follow_up", "bulk",
       delay_minutes=2, context={"last_call": "demo", "deal_value": 52000}),
    _c("Isabella Garcia", "Grupo Sol", "+525555550147", "appointment_taker", "appointment_booking", "bulk",
       delay_minutes=4, context={"meeting": "quarterly review"}),
    _c("Lucas Schmidt", "Blue Ridge Outfitters", "+17045550158", "interested_buyer", "appointment_booking",
       "bulk", delay_minutes=6, context={"meeting": "onboarding session"}),
    _c("Emma Wilson", "Music Row Studios", "+16155550140", "not_interested", "appointment_booking", "bulk",
       delay_minutes=8, context={"meeting": "account review"}),
    _c("Owen Price", "Gulf Coast Energy", "+18325550114", "busy_call_me_back", "follow_up", "bulk",
       delay_minutes=10, context={"last_call": "proposal sent", "deal_value": 18000}),
    # --- scheduled triggers: renewals an hour or so ahead
    _c("Charlotte Davies", "Pennine Textiles", "+441614960517", "renewal_happy", "renewal_reminder",
       "scheduled", delay_minutes=60, context={"contract_value": 24000, "renewal_date": "2027-01-15"}),
    _c("William Turner", "Trinity Logistics", "+12145550175", "renewal_price_objection", "renewal_reminder",
       "scheduled", delay_minutes=75, context={"contract_value": 48000, "renewal_date": "2027-01-01"}),
    _c("Sarah Levine", "Hudson Analytics", "+16465550191", "voicemail", "renewal_reminder", "scheduled",
       delay_minutes=90, context={"contract_value": 12000, "renewal_date": "2027-02-01"}),
    # --- web-form submissions (signed webhook): sales_outreach calls with the form as context
    _c("Zoe Bennett", "Cascade Outdoor", "+15035550188", "interested_buyer", SALES, "form",
       context={"form_interest": "cloud_migration", "company_size": "50-200", "budget_range": "$25k-75k"}),
    _c("Liam O'Connor", "Emerald Consulting", "+442079460321", "busy_call_me_back", SALES, "form",
       context={"form_interest": "pricing", "company_size": "10-50", "budget_range": "$5k-15k"}),
    _c("Maya Patel", "Saffron Labs", "+16465550133", "robot_question", SALES, "form",
       context={"form_interest": "demo", "company_size": "200-500"}),
)  # fmt: skip

# A small book for the end-to-end test: every trigger, a booking, a retry and a follow-up.
SMALL_BOOK: tuple[DemoContact, ...] = tuple(
    c
    for c in BOOK
    if c.name
    in {
        "Dana Whitfield",
        "Jake Moreno",
        "Priya Raman",
        "Laura Chen",
        "Ben Carter",
        "Chloe Martin",
        "Isabella Garcia",
        "William Turner",
        "Zoe Bennett",
    }
)


def check_book(book: tuple[DemoContact, ...]) -> None:
    """Every contact has a known persona and an expected outcome; phones are unique."""
    phones = [c.phone for c in book]
    if len(set(phones)) != len(phones):
        raise ValueError("the demo book has a phone number twice")
    for contact in book:
        if contact.persona not in PERSONAS:
            raise ValueError(f"{contact.name}: unknown persona {contact.persona!r}")
        if contact.expected_outcome is None:
            raise ValueError(f"{contact.name}: no expected outcome for {contact.persona} / {contact.purpose}")
