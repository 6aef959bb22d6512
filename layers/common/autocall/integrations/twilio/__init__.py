"""Twilio: the REST client (``client``), TwiML rendered from our prompt steps (``twiml``), the
webhook signature (``signature``) and its status vocabulary (``status``). Nothing here imports the
twilio SDK at import time: ``twilio.rest`` costs ~0.8 s, imported where first used."""
