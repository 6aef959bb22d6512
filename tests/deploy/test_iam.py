"""The IAM check itself: the recorder sees every client's calls as IAM authorizes them, and the
evaluator allows exactly what the SAM-transformed template's policies allow."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from autocall.clock import CLOCK
from moto import mock_aws
from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from local.awscalls import AwsCall, Recorder, acting_as, authorizations, function_arn, queue_arn
from local.template import LocalTemplate
from tests.support.aws import Aws, aws  # noqa: F401  (the in-process stack fixture)
from tests.support.iam_policy import FunctionPolicies, Report, StackPolicies, check, conditions_hold, matches

ARN = "arn:aws:{}:us-east-1:123456789012:{}"
SENDER = "agent@example.com"  # template.yaml's SenderEmail default


@pytest.fixture(scope="module")
def policies() -> StackPolicies:
    return StackPolicies(LocalTemplate())


def call(function: str, action: str, resource: str, **context: str) -> AwsCall:
    service = action.split(":")[0]
    return AwsCall(function, service, action.split(":")[1], action, resource, tuple(sorted(context.items())))


# --- the evaluator ----------------------------------------------------------------------------


def test_a_call_no_policy_allows_fails_naming_function_action_and_resource(policies: StackPolicies) -> None:
    topic = ARN.format("sns", "autocall-SalesTeamTopic")
    allowed = call("PostCallFunction", "sns:Publish", topic)
    missing = call("TriggerFunction", "sns:Publish", topic)
    report = check({allowed: 2, missing: 3}, LocalTemplate())
    assert [c for c, _, _ in report.denied] == [missing]
    with pytest.raises(AssertionError) as failure:
        report.assert_allowed()
    message = str(failure.value)
    assert f"TriggerFunction may not sns:Publish on {topic}" in message
    assert "no statement of its role allows it" in message and "(3 calls" in message
    assert "2 functions, 2 distinct (function, action) pairs, 5 calls checked, 3 denied" in report.summary()


def test_a_function_not_in_the_template_is_denied(policies: StackPolicies) -> None:
    decision = policies.decide(call("NoSuchFunction", "dynamodb:GetItem", "*"))
    assert not decision.allowed and "not a function" in decision.reason


def test_wildcards_match_resources_and_actions_as_iam_does(policies: StackPolicies) -> None:
    table = ARN.format("dynamodb", "table/autocall-calls")
    own = FunctionPolicies.of(
        "F",
        {"p": {"Statement": [{"Effect": "Allow", "Action": "DynamoDB:Get*", "Resource": f"{table}*"}]}},
    )
    assert own.decide("dynamodb:GetItem", table).allowed
    assert own.decide("dynamodb:getitem", f"{table}/index/by-contact").allowed  # actions ignore case
    assert not own.decide("dynamodb:PutItem", table).allowed
    assert not own.decide("dynamodb:GetItem", table.replace("123456789012", "999999999999")).allowed
    assert matches("arn:*:table/a?c", "arn:aws:table/abc") and not matches(
        "arn:*:table/a?c", "arn:aws:table/abbc"
    )
    assert not matches("table/[ab]", "table/a")  # IAM has no character classes
    # the template's own wildcards: SAM's index/* and LambdaInvokePolicy's name* (qualifiers too)
    assert policies.decide(call("TriggerFunction", "dynamodb:Query", f"{table}/index/by-contact")).allowed
    dialer = function_arn("autocall-dialer", "live")
    assert dialer.endswith(":function:autocall-dialer:live")
    assert policies.decide(call("TriggerFunction", "lambda:InvokeFunction", dialer)).allowed
    assert not policies.decide(call("VoiceWebhookFunction", "lambda:InvokeFunction", dialer)).allowed


def test_deny_wins_and_not_action_excludes() -> None:
    own = FunctionPolicies.of(
        "F",
        {
            "allow": {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]},
            "deny": {
                "Statement": {"Effect": "Deny", "Action": "sqs:*", "Resource": ARN.format("sqs", "dlq")}
            },
        },
    )
    assert own.decide("sns:Publish", "anything").allowed
    assert not own.decide("iam:PassRole", "anything").allowed
    denied = own.decide("sqs:SendMessage", ARN.format("sqs", "dlq"))
    assert not denied.allowed and denied.reason == "explicitly denied by deny statement 0"
    assert own.decide("sqs:SendMessage", ARN.format("sqs", "other")).allowed


def test_ses_may_send_only_from_the_sender_address(policies: StackPolicies) -> None:
    def send(source: str) -> AwsCall:
        (needed,) = authorizations(
            "ses",
            "ses",
            "SendRawEmail",
            {"Source": source, "Destinations": ["x@y.z"], "RawMessage": {"Data": b""}},
        )
        return AwsCall("PostCallFunction", *[getattr(needed, f) for f in ("service", "operation", "action")],
                       needed.resource, needed.context)  # fmt: skip

    ok = send(f"Autocall Agent <{SENDER}>")
    assert ok.resource == ARN.format("ses", f"identity/{SENDER}")
    assert ok.condition_keys["ses:FromAddress"] == SENDER
    assert policies.decide(ok).allowed
    other = policies.decide(send("someone@example.com"))
    assert not other.allowed and "does not hold" in " ".join(other.notes)
    # the From header of a raw message, when Source is not given
    (raw,) = authorizations(
        "ses", "ses", "SendRawEmail", {"RawMessage": {"Data": f"From: A <{SENDER}>\r\n\r\nhi".encode()}}
    )
    assert raw.condition_keys["ses:FromAddress"] == SENDER


def test_a_condition_on_a_key_the_call_does_not_carry_is_not_satisfied_and_reported() -> None:
    holds, problems = conditions_hold(
        {"StringEquals": {"aws:SourceVpc": "vpc-1"}}, {"ses:FromAddress": SENDER}
    )
    assert not holds and problems == ["condition key aws:SourceVpc is not known for this call"]
    holds, problems = conditions_hold({"NumericLessThan": {"x": "1"}}, {"x": "0"})
    assert not holds and "not modelled" in problems[0]
    assert conditions_hold({"StringLike": {"SES:FromAddress": "*@example.com"}}, {"ses:FromAddress": SENDER})[
        0
    ]
    assert conditions_hold({"StringEqualsIfExists": {"absent": "x"}}, {}) == (True, [])
    own = FunctionPolicies.of(
        "F",
        {"p": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
                              "Condition": {"StringEquals": {"aws:PrincipalTag/team": "x"}}}]}},
    )  # fmt: skip
    decision = own.decide("sns:Publish", "t", {})
    assert not decision.allowed and "aws:PrincipalTag/team is not known" in decision.notes[0]


def test_the_transformed_template_resolves_to_the_local_stacks_arns() -> None:
    secret = ARN.format("secretsmanager", "secret:autocall-AutocallSecrets-AbCdEf")
    template = LocalTemplate(overrides={"AutocallSecrets": secret})
    stack = StackPolicies(template)
    assert set(stack.functions) >= {"TriggerFunction", "SchedulerFunction", "VoiceWebhookFunction",
                                    "PostCallFunction", "AuthorizerFunction"}  # fmt: skip
    for function in stack.functions:
        assert stack.decide(call(function, "secretsmanager:GetSecretValue", secret)).allowed, function
    # StepFunctionsExecutionPolicy names the machine by GetAtt .Name: resolved from the local ARN
    machine = ARN.format("states", "stateMachine:autocall-PostCallStateMachine")
    assert stack.decide(call("VoiceWebhookFunction", "states:StartExecution", machine)).allowed
    # managed policies SAM attaches grant logs and X-Ray only
    assert stack.decide(call("TriggerFunction", "logs:PutLogEvents", "x")).allowed
    assert not stack.decide(call("TriggerFunction", "s3:GetObject", "x")).allowed


def test_the_realtime_function_may_post_only_to_its_own_apis_connections() -> None:
    """Least privilege for ConversationRelay: PostToConnection (execute-api:ManageConnections) on
    this stack's WebSocket API and stage only; its connections table; no other function gets either."""
    template = LocalTemplate()
    stack = StackPolicies(template)
    api = template.ref("RealtimeApi")  # the WebSocket API's id, as the local stack names it
    own = ARN.format("execute-api", f"{api}/prod/POST/@connections/abc123=")
    assert stack.decide(call("RealtimeFunction", "execute-api:ManageConnections", own)).allowed
    for other in (
        ARN.format("execute-api", f"{api}/dev/POST/@connections/abc123="),  # another stage
        ARN.format("execute-api", "someone-elses-api/prod/POST/@connections/abc123="),
        ARN.format("execute-api", f"{api}/prod/DELETE/@connections/abc123="),
        ARN.format("execute-api", f"{api}/prod/GET/@connections/abc123="),
    ):
        assert not stack.decide(call("RealtimeFunction", "execute-api:ManageConnections", other)).allowed
    assert not stack.decide(call("RealtimeFunction", "execute-api:Invoke", own)).allowed
    connections = ARN.format("dynamodb", "table/autocall-realtime-connections")
    assert stack.decide(call("RealtimeFunction", "dynamodb:PutItem", connections)).allowed
    for function in set(stack.functions) - {"RealtimeFunction"}:
        assert not stack.decide(call(function, "execute-api:ManageConnections", own)).allowed, function
        assert not stack.decide(call(function, "dynamodb:PutItem", connections)).allowed, function


# --- the recorder -----------------------------------------------------------------------------


class _Contact(Model):
    class Meta:
        table_name = "autocall-contacts"
        region = "us-east-1"

    contact_id = UnicodeAttribute(hash_key=True)


def test_recorder_sees_boto3_and_pynamodb_clients_per_function() -> None:
    with mock_aws(), Recorder() as recorder:
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="autocall-contacts",
            AttributeDefinitions=[{"AttributeName": "contact_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "contact_id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        with acting_as("TriggerFunction"):
            _Contact("c1").save()  # pynamodb's own botocore client
            dynamodb.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": "autocall-contacts", "Item": {"contact_id": {"S": "c2"}}}},
                    {"Delete": {"TableName": "autocall-contacts", "Key": {"contact_id": {"S": "c1"}}}},
                ]
            )
            sqs = boto3.client("sqs", region_name="us-east-1")
            url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    table = ARN.format("dynamodb", "table/autocall-contacts")
    found = {(c.function, c.action, c.resource) for c in recorder.calls}
    assert ("TriggerFunction", "dynamodb:PutItem", table) in found  # pynamodb save
    assert ("TriggerFunction", "dynamodb:DeleteItem", table) in found  # a transaction's item
    assert ("TriggerFunction", "sqs:CreateQueue", ARN.format("sqs", "dlq")) in found
    assert (None, "dynamodb:CreateTable", table) in found  # the harness: not a function's
    assert recorder.api_calls == {"harness": 1, "function": 3}
    assert queue_arn(url) == ARN.format("sqs", "dlq")


def test_calls_moto_makes_itself_are_not_the_functions() -> None:
    """moto's Step Functions interpreter invokes Lambda with its own boto3 client, on a thread an
    invocation may have started: such a call is moto's (the state machine's role), not the caller's."""
    import moto

    emulator: dict[str, Any] = {}
    fake = os.path.join(os.path.dirname(moto.__file__), "stepfunctions", "_emulating.py")
    exec(compile("def run(client):\n    return client.list_tables()\n", fake, "exec"), emulator)
    with mock_aws(), Recorder() as recorder, acting_as("VoiceWebhookFunction"):
        client = boto3.client("dynamodb", region_name="us-east-1")
        emulator["run"](client)
        client.list_tables()
    origins = sorted((c.origin, c.function) for c in recorder.calls)
    assert origins == [("function", "VoiceWebhookFunction"), ("moto", None)]


def test_schedules_need_pass_role_on_their_role_and_name_their_group() -> None:
    role = "arn:aws:iam::123456789012:role/autocall-SchedulerInvokeRole"
    params = {"Name": "call-1", "GroupName": "autocall-calls", "Target": {"Arn": "a", "RoleArn": role}}
    create, pass_role = authorizations("scheduler", "scheduler", "CreateSchedule", params)
    assert create.resource == ARN.format("scheduler", "schedule/autocall-calls/call-1")
    assert pass_role.action == "iam:PassRole" and pass_role.resource == role
    assert pass_role.condition_keys["iam:PassedToService"] == "scheduler.amazonaws.com"
    (delete,) = authorizations("scheduler", "scheduler", "DeleteSchedule", {"Name": "call-1"})
    assert delete.resource == ARN.format("scheduler", "schedule/default/call-1")
    (start,) = authorizations("stepfunctions", "states", "StartExecution", {"stateMachineArn": "arn:sm"})
    assert (start.action, start.resource) == ("states:StartExecution", "arn:sm")
    (put,) = authorizations("events", "events", "PutEvents", {"Entries": [{"Detail": "{}"}]})
    assert put.resource == ARN.format("events", "event-bus/default")
    (invoke,) = authorizations("lambda", "lambda", "Invoke", {"FunctionName": "123456789012:function:f"})
    assert (invoke.action, invoke.resource) == ("lambda:InvokeFunction", ARN.format("lambda", "function:f"))
    (query,) = authorizations("dynamodb", "dynamodb", "Query", {"TableName": "t", "IndexName": "by-x"})
    assert query.resource == ARN.format("dynamodb", "table/t/index/by-x")


# --- a real flow through the handlers ---------------------------------------------------------


def test_the_triggers_calls_in_a_real_flow_are_all_allowed(aws: Aws) -> None:  # noqa: F811
    CLOCK.freeze(datetime(2026, 11, 25, 15, 0, tzinfo=UTC))  # the aws fixture resets the clock
    with Recorder() as recorder:
        status, contact = aws.api(
            "POST", "/contacts", {"name": "John Smith", "phone": "(415) 555-0123", "consent": True}
        )
        assert status == 201, contact
        status, body = aws.api(
            "POST",
            "/calls/api/calls/trigger_autonomous_call/",
            {
                "contact_id": contact["contact_id"],
                "call_purpose": "sales_outreach",
                "scheduled_time": "2026-11-27T16:00:00+00:00",
            },
        )
        assert status == 202, body
        assert aws.api("GET", f"/calls/{body['call_id']}")[0] == 200
        assert aws.api("DELETE", f"/calls/{body['call_id']}")[0] in (200, 202, 204)
    trigger = {c: n for c, n in recorder.calls.items() if c.function == "TriggerFunction"}
    actions = {c.action for c in trigger}
    assert {
        "dynamodb:PutItem",
        "scheduler:CreateSchedule",
        "iam:PassRole",
        "scheduler:DeleteSchedule",
    } <= actions
    report: Report = check(trigger, aws.template)
    assert report.denied == [], report.failure_message()
    assert report.summary().startswith("IAM: 1 functions, ")
