"""moto in-process with every resource of template.yaml: the ``aws`` fixture and what it yields."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from autocall.clock import CLOCK
from moto import mock_aws

from local.lambdas import FunctionRegistry, route_moto_lambda
from local.resources import LOCAL_PARAMETERS, configure_moto, create_resources
from local.stack import apply_environment, local_secrets
from local.template import LocalTemplate
from tests.support.helpers import api_event


@dataclass
class Aws:
    """moto in-process with every resource of template.yaml, handlers reachable by API events."""

    template: LocalTemplate
    registry: FunctionRegistry
    secrets: dict[str, Any]

    def api(self, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        """Drive a route as API Gateway does: the proxy event straight into the function."""
        route = next(r for r in self.template.routes() if r.matches(method, path.split("?")[0]) is not None)
        event = api_event(route, method, path, body, **kwargs)
        result = self.registry.invoke(route.function, event)
        import json

        payload = result.get("body")
        try:
            return int(result["statusCode"]), json.loads(payload) if payload else None
        except ValueError:
            return int(result["statusCode"]), payload


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    configure_moto()
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        template = LocalTemplate()
        template.overrides.update(LOCAL_PARAMETERS)  # the parameters `make run` deploys with
        secrets = local_secrets()
        apply_environment({"SECRETS_ARN": ""})
        overrides = create_resources(template, secrets)
        template.overrides.update(overrides)
        # the test process shares what every function has (Globals); each function runs with only
        # its own environment from the template, as on AWS (FunctionRegistry.function_env)
        env = template.globals_environment()
        # the audit table is given to the functions that keep or read it only (the dialer, the
        # API); the test process reads it beside them, so it gets its name too
        env["DIAL_AUDIT_TABLE"] = template.function_environment("SchedulerFunction")["DIAL_AUDIT_TABLE"]
        for key in env:
            monkeypatch.setenv(key, env[key])
        apply_environment(env)
        registry = FunctionRegistry(template)
        route_moto_lambda(registry)
        yield Aws(template, registry, secrets)
        registry.shutdown()
    CLOCK.reset()
