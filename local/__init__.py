"""The embedded local stack: moto, an API Gateway emulator, a Twilio-compatible carrier simulator."""
