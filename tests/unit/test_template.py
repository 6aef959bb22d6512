"""template.yaml is the one description of every resource: it must lint, transform offline, and
agree with the pynamodb models the code uses."""

from __future__ import annotations

import re
from typing import Any

import pytest
from autocall.stores.tables import ALL_TABLES

from local.template import TEMPLATE_PATH, LocalTemplate, load_template
from tests.support.template import transformed


def test_template_passes_cfn_lint() -> None:
    from cfnlint.api import lint_all

    problems = [m for m in lint_all(TEMPLATE_PATH.read_text()) if m.rule.id.startswith("E")]
    assert problems == [], "\n".join(str(p) for p in problems)


def _references(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg.split(".")[0] if isinstance(arg, str) else arg[0])
            elif key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
                if not isinstance(arg, str):
                    found |= _references(arg[1])
            else:
                found |= _references(arg)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item)
    return found


def test_sam_transform_succeeds_offline_without_circular_dependencies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    resources = transformed()["Resources"]
    graph = {
        lid: (
            _references(res)
            | set(
                res.get("DependsOn", [])
                if isinstance(res.get("DependsOn"), list)
                else [res["DependsOn"]]
                if res.get("DependsOn")
                else []
            )
        )
        & set(resources)
        for lid, res in resources.items()
    }
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        if node in done:
            return
        assert node not in visiting, f"circular dependency: {' -> '.join([*path, node])}"
        visiting.add(node)
        for child in graph[node]:
            visit(child, [*path, node])
        visiting.discard(node)
        done.add(node)

    for node in graph:
        visit(node, [])
    assert any(r["Type"] == "AWS::ApiGateway::RestApi" for r in resources.values())


def _keys(schema: list[dict[str, str]]) -> dict[str, str]:
    return {k["KeyType"]: k["AttributeName"] for k in schema}


@pytest.mark.parametrize("logical_id", sorted(ALL_TABLES))
def test_model_keys_and_indexes_match_the_template(logical_id: str) -> None:
    props = load_template()["Resources"][logical_id]["Properties"]
    schema = ALL_TABLES[logical_id]._get_schema()
    assert _keys(props["KeySchema"]) == _keys(schema["key_schema"])
    template_indexes = {
        g["IndexName"]: _keys(g["KeySchema"]) for g in props.get("GlobalSecondaryIndexes", [])
    }
    model_indexes = {g["index_name"]: _keys(g["key_schema"]) for g in schema["global_secondary_indexes"]}
    assert template_indexes == model_indexes
    assert schema["local_secondary_indexes"] == [] and "LocalSecondaryIndexes" not in props
    declared = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    used = {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]}
    assert declared == used


# --- least privilege that still works: every function may call what it is configured to call ---


class _Arns(LocalTemplate):
    """Resolves the transformed template's intrinsic functions (with the local stack's resolver) to
    the names and ARNs CloudFormation would give its resources (a resource without a fixed name
    gets a stand-in one)."""

    def name(self, lid: str) -> str:
        props = self.resources[lid].get("Properties", {})
        for key in ("FunctionName", "StateMachineName", "TableName", "Name", "QueueName", "TopicName"):
            if key in props:
                return str(self.resolve(props[key]))
        return f"stack-{lid}-GENERATED"

    def ref(self, name: str) -> str:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.template.get("Parameters", {}):
            return str(self.template["Parameters"][name].get("Default", ""))
        kind = self.resources[name]["Type"]
        if kind in ("AWS::StepFunctions::StateMachine", "AWS::SNS::Topic", "AWS::SecretsManager::Secret"):
            return self.get_att(name, "Arn")
        return self.name(name)

    def get_att(self, lid: str, attribute: str) -> str:
        kind, name = self.resources[lid]["Type"], self.name(lid)
        prefix = "arn:aws:{}:us-east-1:123456789012:"
        if attribute in ("Name", "TopicName", "QueueName"):
            return name
        return {
            "AWS::Lambda::Function": prefix.format("lambda") + f"function:{name}",
            "AWS::StepFunctions::StateMachine": prefix.format("states") + f"stateMachine:{name}",
            "AWS::IAM::Role": f"arn:aws:iam::123456789012:role/{name}",
            "AWS::SQS::Queue": prefix.format("sqs") + name,
            "AWS::SNS::Topic": prefix.format("sns") + name,
            "AWS::SecretsManager::Secret": prefix.format("secretsmanager") + f"secret:{name}",
            "AWS::DynamoDB::Table": prefix.format("dynamodb") + f"table/{name}",
            "AWS::Logs::LogGroup": prefix.format("logs") + f"log-group:{name}",
        }.get(kind, f"{lid}.{attribute}")

    def statements(self, role: str) -> list[dict[str, Any]]:
        policies = self.resources[role]["Properties"].get("Policies", [])
        found = []
        for policy in policies:
            for statement in self.resolve(policy["PolicyDocument"])["Statement"]:
                found.append(statement)
        return found

    def allows(self, role: str, action: str, resource: str) -> bool:
        from fnmatch import fnmatchcase

        def listed(value: Any) -> list[str]:
            return [str(v) for v in (value if isinstance(value, list) else [value])]

        return any(
            s.get("Effect") == "Allow"
            and any(fnmatchcase(action.lower(), a.lower()) for a in listed(s.get("Action", [])))
            and any(fnmatchcase(resource, r) for r in listed(s.get("Resource", [])))
            for s in self.statements(role)
        )


def _function_needs(env: dict[str, str]) -> list[tuple[str, str]]:
    """(action, resource) a function needs for the targets its environment names."""
    needs = []
    for key, value in env.items():
        if re.match(r"^arn:aws:lambda:[^:]+:\d+:function:[^:]+$", value):
            needs.append(("lambda:InvokeFunction", value))  # async invokes: the dialer, itself
        elif re.match(r"^arn:aws:states:[^:]+:\d+:stateMachine:", value):
            needs.append(("states:StartExecution", value))
        elif key == "SALES_TOPIC_ARN":
            needs.append(("sns:Publish", value))
        elif key == "SECRETS_ARN":
            needs.append(("secretsmanager:GetSecretValue", value))
        elif key == "EVENT_BUS_NAME":
            needs.append(("events:PutEvents", f"arn:aws:events:us-east-1:123456789012:event-bus/{value}"))
        elif key == "SCHEDULER_ROLE_ARN":  # creates schedules run by that role
            schedule = f"arn:aws:scheduler:us-east-1:123456789012:schedule/{env['SCHEDULE_GROUP']}/call-x"
            needs += [("iam:PassRole", value), ("scheduler:CreateSchedule", schedule)]
            needs += [("scheduler:UpdateSchedule", schedule), ("scheduler:GetSchedule", schedule)]
    return needs


@pytest.fixture
def arns(monkeypatch: pytest.MonkeyPatch) -> _Arns:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return _Arns(stack_name="stack", template=transformed())


def _functions(arns: _Arns) -> dict[str, tuple[str, dict[str, str]]]:
    """logical id → (its role, its environment) for every function of the transformed template."""
    found = {}
    for lid, res in arns.resources.items():
        if res["Type"] != "AWS::Lambda::Function":
            continue
        role = res["Properties"]["Role"]["Fn::GetAtt"][0]
        env = arns.resolve(res["Properties"].get("Environment", {}).get("Variables", {}))
        found[lid] = (role, {k: str(v) for k, v in env.items()})
    return found


def test_every_function_may_call_what_its_environment_names(arns: _Arns) -> None:
    missing = [
        f"{lid} ({role}) may not {action} on {resource}"
        for lid, (role, env) in _functions(arns).items()
        for action, resource in _function_needs(env)
        if not arns.allows(role, action, resource)
    ]
    assert missing == []


def test_the_campaign_worker_carries_fanouts_and_sweeps_on_and_only_it_is_invoked_for_them(
    arns: _Arns,
) -> None:
    """The trigger hands a campaign's work to the worker; the worker invokes itself to go on. The
    trigger may not invoke itself any more (it serves the API only)."""
    functions = _functions(arns)
    worker_role, worker_env = functions["CampaignWorkerFunction"]
    trigger_role, trigger_env = functions["TriggerFunction"]
    worker = arns.get_att("CampaignWorkerFunction", "Arn")
    assert worker_env["CAMPAIGN_WORKER_FUNCTION_ARN"] == worker  # the ARN the code invokes is itself
    assert trigger_env["CAMPAIGN_WORKER_FUNCTION_ARN"] == worker
    assert arns.allows(worker_role, "lambda:InvokeFunction", worker)
    assert arns.allows(trigger_role, "lambda:InvokeFunction", worker)
    assert not arns.allows(trigger_role, "lambda:InvokeFunction", arns.get_att("TriggerFunction", "Arn"))
    assert "TRIGGER_FUNCTION_ARN" not in trigger_env
    assert arns.name("CampaignWorkerFunction") == "stack-campaign-worker"  # fixed: no cycle
    assert arns.name("TriggerFunction") == "stack-trigger"


def test_the_start_campaign_rule_targets_the_campaign_worker() -> None:
    events = {
        lid: res["Properties"].get("Events", {})
        for lid, res in load_template()["Resources"].items()
        if res["Type"] == "AWS::Serverless::Function"
    }
    rules = {
        lid: name
        for lid, found in events.items()
        for name, e in found.items()
        if e["Type"] == "EventBridgeRule"
    }
    assert rules == {"CampaignWorkerFunction": "CampaignEvent"}
    pattern = events["CampaignWorkerFunction"]["CampaignEvent"]["Properties"]["Pattern"]
    assert pattern == {"source": ["autocall.campaigns"], "detail-type": ["StartCampaign"]}
    worker = load_template()["Resources"]["CampaignWorkerFunction"]["Properties"]
    assert (worker["CodeUri"], worker["Handler"]) == (
        "functions/scheduler/",
        "campaign_worker.lambda_handler",
    )


def test_schedules_may_fire_every_function_they_target(arns: _Arns) -> None:
    """The dialer (calls, watchdogs) and the post-call function (meeting reminders)."""
    for lid in ("SchedulerFunction", "PostCallFunction"):
        target = arns.get_att(lid, "Arn")
        assert arns.allows("SchedulerInvokeRole", "lambda:InvokeFunction", target), lid
        _, env = _functions(arns)[lid]
        assert "SCHEDULER_ROLE_ARN" in env
