"""The whole local stack on free loopback ports, driven over HTTP as a user would
(``tests.support.stack``), every AWS call it makes proven against the functions' policies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.stack import api, stack  # noqa: F401  (the fixtures)

# --- IAM proven, not assumed --------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def iam_proven(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every AWS call a function makes in this session is checked against that function's policies in
    the SAM-transformed template; a denied call fails the session naming function, action and
    resource (every call: .aws-sam-iam-calls.json). Autouse: installed before the stack starts."""
    from local.template import ROOT
    from tests.support.iam_policy import CALLS_FILE, prove_iam

    with prove_iam(ROOT / CALLS_FILE, request.config):
        yield
