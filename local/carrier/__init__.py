"""A Twilio-compatible carrier simulator: the REST API, virtual callees, signed webhooks."""

from local.carrier.records import Callee, SimCall, SimMessage, TranscriptEntry, WebhookDelivery
from local.carrier.simulator import CarrierSimulator

__all__ = ["Callee", "CarrierSimulator", "SimCall", "SimMessage", "TranscriptEntry", "WebhookDelivery"]
