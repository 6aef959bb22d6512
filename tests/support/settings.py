"""The settings every deployed function gets: the ``deployed_identity`` fixture."""

from collections.abc import Iterator

import pytest
from autocall.config import reset_settings

from local.template import load_template


@pytest.fixture
def deployed_identity(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The business identity every deployed function gets from Globals (the template's parameter
    defaults): the settings have no stand-in values of their own."""
    parameters = load_template()["Parameters"]
    for env, parameter in (
        ("BUSINESS_NAME", "BusinessName"),
        ("AGENT_NAME", "AgentName"),
        ("TWILIO_CALLER_ID", "TwilioCallerId"),
    ):
        monkeypatch.setenv(env, str(parameters[parameter]["Default"]))
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()
