"""`make smoke` (scripts/smoke.py) against the local stack, as a user runs it against a deploy: in its
own process, over HTTP only, with the API's URL and token given, or read from the stack's outputs
and its secret (moto's CloudFormation and Secrets Manager here)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from local.personas import PERSONAS
from local.stack import LocalStack
from tests.support.stack import rest_clock, run_clock_from

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "scripts" / "smoke.py"
WEDNESDAY_NOON_EASTERN = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)  # inside 09:00-20:00 in New York
NEW_YORK = "America/New_York"
PERSONA = "interested_buyer"  # talks, books a demo: a transcript and a post-call chain with actions


@pytest.fixture(autouse=True)
def business_hours() -> Iterator[None]:
    run_clock_from(WEDNESDAY_NOON_EASTERN)
    yield
    rest_clock()


def smoke(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(SMOKE),
            "--poll",
            "0.2",
            "--call-timeout",
            "120",
            "--post-call-timeout",
            "120",
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_smoke_places_one_call_and_prints_its_transcript_and_result(stack: LocalStack) -> None:
    phone = "+13475550142"
    stack.carrier.register_callee(phone, PERSONA, name="Sam")
    run = smoke(
        *("--phone", phone, "--name", "Sam Smith", "--time-zone", NEW_YORK),
        *("--api-url", stack.url, "--token", stack.api_token),
    )
    out = run.stdout
    assert run.returncode == 0, out + run.stderr
    assert "auth       ok: no token 401, wrong token 403, the token 200" in out
    assert f"API        {stack.url}" in out
    transcript = out.split("transcript:\n", 1)[1].split("post-call result:", 1)[0]
    assert "  agent:  Hi, this is Alex, an automated AI assistant" in transcript
    for line in PERSONAS[PERSONA].lines[1:4]:  # what the callee said, in order
        assert f"  callee: {line.format(name='Sam')}" in transcript
    result = out.split("post-call result:\n", 1)[1]
    assert "  outcome: demo_scheduled" in result
    assert "  summary: " in result and "  probability: " in result and "  next_action: " in result
    actions = next(line for line in result.splitlines() if line.startswith("actions taken: "))
    assert "demo_scheduled" in actions and "calendar_invite_sent" in actions, actions
    assert out.rstrip().endswith("SMOKE OK")


def test_smoke_with_a_wrong_token_fails_at_the_auth_step(stack: LocalStack) -> None:
    run = smoke("--phone", "+13475550143", "--api-url", stack.url, "--token", "not-the-token")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "SMOKE FAILED at step auth: GET /openapi.json with the API token answered 403" in run.stdout
    assert "contact" not in run.stdout  # nothing was written


@pytest.mark.filterwarnings("ignore:Tried to parse AWS.*WaitConditionHandle:UserWarning")
def test_smoke_reads_the_url_and_the_token_from_the_stack(stack: LocalStack) -> None:
    """Without --api-url and --token: the stack's outputs ApiUrl and SecretsArn, then api_token from
    the secret. A stack whose secret holds another token gets as far as the auth step."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "AWS_ENDPOINT_URL": stack.moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    aws = {"endpoint_url": stack.moto_url, "region_name": "us-east-1"}
    secret = boto3.client("secretsmanager", **aws).create_secret(
        Name="smoke-outputs-secret", SecretString='{"api_token": "a-token-the-api-refuses"}'
    )["ARN"]
    template = (
        '{"Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},'
        f' "Outputs": {{"ApiUrl": {{"Value": "{stack.url}"}}, "SecretsArn": {{"Value": "{secret}"}}}}}}'
    )
    boto3.client("cloudformation", **aws).create_stack(StackName="smoke-outputs", TemplateBody=template)

    run = smoke("--phone", "+13475550144", "--stack-name", "smoke-outputs", "--region", "us-east-1", env=env)
    assert f"outputs    ok: ApiUrl {stack.url}" in run.stdout, run.stdout + run.stderr
    assert "token      ok: api_token read from the secret" in run.stdout
    assert "SMOKE FAILED at step auth" in run.stdout and run.returncode == 1

    missing = smoke(
        "--phone", "+13475550144", "--stack-name", "no-such-stack", "--region", "us-east-1", env=env
    )
    assert missing.returncode == 1
    assert "SMOKE FAILED at step outputs: cannot read stack 'no-such-stack'" in missing.stdout
