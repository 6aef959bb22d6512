"""The built functions: each folder holds its handler, and each handler runs from the build with only
its own environment (tests/support/built.py's worker, checked here too)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from local.template import LocalTemplate, load_template
from tests.support import built


def template_env(build: Path, logical_id: str) -> dict[str, str]:
    """Globals' variables and the function's own, as the built template gives them (references
    resolved to the local stack's names)."""
    return LocalTemplate(template=load_template(build / "template.yaml")).function_environment(logical_id)


def test_each_built_function_folder_holds_its_handler_module(build: Path) -> None:
    specs = built.functions(build)
    assert len(specs) >= 5, sorted(specs)
    for logical_id, spec in specs.items():
        module, attr = spec["handler"].rsplit(".", 1)
        source = spec["code"] / (module.replace(".", "/") + ".py")
        assert spec["code"].is_dir(), f"{logical_id}: no built folder {spec['code']}"
        assert source.is_file(), f"{logical_id}: {source.name} missing from {spec['code']}"
        assert f"def {attr}(" in source.read_text(), f"{logical_id}: {source} defines no {attr}"


FUNCTIONS = sorted(
    lid for lid, res in load_template()["Resources"].items() if res["Type"] == "AWS::Serverless::Function"
)


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_each_built_handler_imports_with_only_its_own_environment(
    logical_id: str, build: Path, moved_layer: Path
) -> None:
    with built.BuiltFunction(logical_id, moved_layer, template_env(build, logical_id), build=build) as fn:
        assert fn.init_ms is not None and fn.init_ms > 0


def test_the_trigger_serves_its_openapi_document_from_the_build(build: Path, moved_layer: Path) -> None:
    """GET /openapi.json through the built TriggerFunction, as API Gateway invokes it (an authorized
    route: the authorizer's principal in requestContext); no AWS service is needed for it, and no
    credentials are given: a call to one would fail."""
    event = built.rest_event(
        "GET",
        "/openapi.json",
        headers={"Authorization": "Bearer x", "Accept": "application/json"},
        query=[],
        authorizer={"principalId": "api-client", "integrationLatency": 12},
    )
    with built.BuiltFunction(
        "TriggerFunction", moved_layer, template_env(build, "TriggerFunction")
    ) as trigger:
        first = trigger.invoke(event)
        again = trigger.invoke(event)  # the same worker: a warm container
    assert first["statusCode"] == 200, first
    document = json.loads(first["body"])
    assert document["info"]["title"] == "autocall API"
    assert "/calls/{call_id}" in document["paths"] and "/openapi.json" in document["paths"]
    assert again["body"] == first["body"]


HANDLER = """
import json, os, sys


def lambda_handler(event, context):
    print("a print goes to the logs, not the results")
    if event.get("raise"):
        raise ValueError("asked to fail")
    opened = None
    if event.get("open"):
        try:
            open(event["open"]).close()
            opened = "read"
        except FileNotFoundError:
            opened = "FileNotFoundError"
    return {
        "path": sys.path[:2],
        "env": sorted(os.environ),
        "cwd": os.getcwd(),
        "opened": opened,
        "context": {
            "function_name": context.function_name,
            "aws_request_id": context.aws_request_id,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "remaining": context.get_remaining_time_in_millis(),
        },
        "pid": os.getpid(),
    }
"""


def test_the_worker_runs_a_handler_as_lambda_does(moved_layer: Path, tmp_path: Path) -> None:
    code = tmp_path / "build" / "ProbeFunction"
    code.mkdir(parents=True)
    (code / "app.py").write_text(HANDLER)
    spec = {"code": code, "handler": "app.lambda_handler", "timeout": 15, "memory": 256}
    inside_checkout = str(built.ROOT / "template.yaml")
    with built.BuiltFunction("ProbeFunction", moved_layer, {"ONLY_THIS": "1"}, spec=spec) as probe:
        first = probe.invoke({"open": inside_checkout})
        second = probe.invoke({"open": str(moved_layer / "six.py")})
        failed = probe.invoke_raw({"raise": True})
        after = probe.invoke({})
        logs = probe.logs
    assert first["path"] == [str(code), str(moved_layer)]
    lambda_set = {"AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION", "LAMBDA_TASK_ROOT", "_HANDLER", "TZ"}
    inherited = set(first["env"]) - lambda_set - {"ONLY_THIS", "PATH", "HOME", "LANG"}
    assert {"ONLY_THIS"} | lambda_set <= set(first["env"])
    assert all(k.startswith(("AWS_", "LAMBDA_", "_X_AMZN")) for k in inherited), inherited
    assert first["cwd"] == str(code)
    assert first["opened"] == "FileNotFoundError"  # the checkout is not on Lambda
    assert second["opened"] == "read"  # the layer is
    ctx = first["context"]
    assert ctx["function_name"] == "ProbeFunction" and ctx["memory_limit_in_mb"] == 256
    assert ctx["invoked_function_arn"].endswith(":function:ProbeFunction")
    assert 0 < ctx["remaining"] <= 15_000
    assert ctx["aws_request_id"] != second["context"]["aws_request_id"]
    assert first["pid"] == second["pid"] == after["pid"]  # one warm worker
    assert failed["error"]["errorType"] == "ValueError" and "asked to fail" in failed["error"]["errorMessage"]
    assert "a print goes to the logs" in logs


def test_the_rest_event_keeps_the_shape_sam_generates() -> None:
    """events/apigateway-aws-proxy.json is `sam local generate-event apigateway aws-proxy` verbatim;
    rest_event() changes values, never the shape (with requestContext.domainName and domainPrefix,
    which API Gateway fills and the sample lacks)."""
    sample = built.sample_rest_event()
    sam = built.ROOT / ".venv-sam" / "bin" / "sam"
    if sam.exists():  # the tier has it: compare with what this SAM CLI generates now
        generated = subprocess.run(
            [str(sam), "local", "generate-event", "apigateway", "aws-proxy"],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        ).stdout
        assert shape(json.loads(generated[generated.index("{") :])) == shape(sample)
    event = built.rest_event(
        "POST",
        "/twilio/answer",
        query=[("b", "2"), ("a", "1"), ("b", "3")],
        body=b"From=%2B1",
    )
    assert set(event) == set(sample)
    assert set(event["requestContext"]) == set(sample["requestContext"]) | {"domainName", "domainPrefix"}
    assert event["requestContext"]["path"] == "/Prod/twilio/answer" and event["path"] == "/twilio/answer"
    assert event["multiValueQueryStringParameters"] == {"b": ["2", "3"], "a": ["1"]}
    assert event["queryStringParameters"] == {"b": "3", "a": "1"}
    assert event["isBase64Encoded"] is True and event["body"] == "RnJvbT0lMkIx"
    assert event["headers"]["Host"] == event["requestContext"]["domainName"]
    assert event["multiValueHeaders"]["Host"] == [event["headers"]["Host"]]


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value[:1]]
    return type(value).__name__
