"""Integration tests drive a handler on moto in-process with the template's resources."""

from tests.support.aws import aws  # noqa: F401  (the fixture)
