"""Fakes that behave like the real services, for tests."""
