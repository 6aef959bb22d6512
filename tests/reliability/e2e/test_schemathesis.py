"""The public API fuzzed from its own OpenAPI document, through the local gateway with the bearer
token: valid and invalid requests for every operation. No 5xx, ever; every 4xx is the documented
JSON error ``{"error", "message", "field"}``; every answer is one the document lists for the
operation (status code, content type) and matches the schema it gives for it."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from local.stack import LocalStack
from tests.support.reliability import COUNTS

RESPONSE_CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 25  # per operation and generation mode: bounded, so the whole run takes about a minute


@pytest.fixture(scope="module")
def api_schema(stack: LocalStack) -> Any:
    auth = {"Authorization": f"Bearer {stack.api_token}"}
    document = requests.get(f"{stack.url}/openapi.json", headers=auth, timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=stack.url, headers=auth)
    return schema


def check(case: Any, session: requests.Session) -> None:
    response = case.call(session=session, timeout=30)
    where = (case.method, case.formatted_path, case.query, case.body)
    assert response.status_code < 500, (*where, response.status_code, response.text)
    if response.status_code >= 400:
        error = response.json()
        assert {"error", "message", "field"} <= set(error), (*where, error)
        assert isinstance(error["message"], str) and error["message"], (*where, error)
    case.validate_response(response, checks=RESPONSE_CHECKS)
    COUNTS[f"fuzzed answers with status {response.status_code}, each matching its documented schema"] += 1


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda mode: mode.value)
def test_no_server_error_every_refusal_names_its_field_every_answer_as_documented(
    api_schema: Any, mode: GenerationMode
) -> None:
    """The schemathesis pytest plugin predates pytest 9: each operation's strategy is run here."""
    session = requests.Session()
    session.headers.update(api_schema.config.headers)
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:
        sent: list[int] = []

        @settings(
            max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def fuzz(case: Any) -> None:
            sent.append(1)  # noqa: B023
            check(case, session)

        try:
            fuzz()
        except Unsatisfiable:  # no invalid request exists for it (GET /openapi.json takes no input)
            assert mode is GenerationMode.NEGATIVE and not sent, operation.label
        COUNTS[f"fuzzed API requests ({mode.value}), 0 server errors, every answer as documented"] += len(
            sent
        )
