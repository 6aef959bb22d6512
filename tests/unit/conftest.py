"""Unit tests are pure logic: the only fixture they share is the deployed business identity."""

from tests.support.settings import deployed_identity  # noqa: F401  (the fixture)
