"""The few unit tests that drive a handler (tests/unit/test_metrics.py) use moto in-process with the
template's resources, as the integration tests do."""

from tests.integration.conftest import aws  # noqa: F401
