"""Creates the template's resources in moto (in-process ``mock_aws`` or the moto server)."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.exceptions import ClientError

from local.template import ROOT, LocalTemplate

LOCAL_SECRET_DEFAULTS = {
    "api_token": "local-dev-token",
    "twilio_auth_token": "local-twilio-auth-token",
    "openai_api_key": "",
    "form_secrets": {"website": "local-form-secret"},
    "crm_webhook_secret": "local-crm-webhook-secret",
}


# Template parameters the local stack sets differently: moto sleeps retry intervals in real time; the
# demo's book, the end-to-end tests and the benchmarks call these countries (a deployment calls its
# caller id's own country unless told otherwise).
LOCAL_PARAMETERS = {
    "PostCallRetryIntervalSeconds": "1",
    "PostCallRetryBackoffRate": "1",
    "AllowedCountries": "US,CA,GB,DE,IT,BR,MX,JP,AU,IN",
}


def configure_moto() -> None:
    """Lambda without Docker (our handlers run in-process) and Step Functions that really execute."""
    from moto.core.config import default_user_config

    default_user_config["lambda"] = {"use_docker": False}
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    from local.moto_patches import patch_moto

    patch_moto()  # conditional writes atomic under concurrent requests, as on AWS; faster routing


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "autocall local stack: handlers run in-process")
    return buffer.getvalue()


def create_resources(template: LocalTemplate, secrets: dict[str, Any]) -> dict[str, str]:
    """Create every resource the local stack emulates; returns overrides (logical id → ARN/name)."""
    created: dict[str, str] = {}
    dynamodb = boto3.client("dynamodb")
    existing = set(dynamodb.list_tables()["TableNames"])
    for res in template.of_type("AWS::DynamoDB::Table").values():
        props = template.resolve(res["Properties"])
        if props["TableName"] in existing:
            continue
        request: dict[str, Any] = {
            "TableName": props["TableName"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if props.get("GlobalSecondaryIndexes"):
            request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        dynamodb.create_table(**request)
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=props["TableName"], TimeToLiveSpecification=ttl)

    scheduler = boto3.client("scheduler")
    for res in template.of_type("AWS::Scheduler::ScheduleGroup").values():
        name = template.resolve(res["Properties"])["Name"]
        try:
            scheduler.create_schedule_group(Name=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConflictException":
                raise

    sqs = boto3.client("sqs")
    for lid in template.of_type("AWS::SQS::Queue"):
        url = sqs.create_queue(QueueName=f"{template.stack_name}-{lid}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        created[f"{lid}.Arn"] = arn

    sns = boto3.client("sns")
    for lid in template.of_type("AWS::SNS::Topic"):
        created[lid] = sns.create_topic(Name=f"{template.stack_name}-{lid}")["TopicArn"]

    secretsmanager = boto3.client("secretsmanager")
    for lid in template.of_type("AWS::SecretsManager::Secret"):
        name = f"{template.stack_name}-{lid}"
        try:
            arn = secretsmanager.create_secret(Name=name, SecretString=json.dumps(secrets))["ARN"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceExistsException":
                raise
            arn = secretsmanager.put_secret_value(SecretId=name, SecretString=json.dumps(secrets))["ARN"]
        created[lid] = arn

    iam = boto3.client("iam")
    role_name = f"{template.stack_name}-lambda-role"
    try:
        role_arn = iam.create_role(
            RoleName=role_name,
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )["Role"]["Arn"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
        role_arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]
    lambda_client = boto3.client("lambda")
    code = _zip()
    for lid, (_, handler) in template.functions().items():
        name = template.function_name(lid)
        try:
            lambda_client.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=role_arn,
                Handler=handler,
                Code={"ZipFile": code},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceConflictException":
                raise
        alias = template.resources[lid]["Properties"].get("AutoPublishAlias")
        if alias:  # schedules and invokes aim at the alias, as on AWS
            _ensure_alias(lambda_client, name, str(alias))

    ses = boto3.client("ses")
    for param in ("SenderEmail", "TeamEmail"):
        ses.verify_email_identity(EmailAddress=template.ref(param))

    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:  # server mode: moto's Step Functions invokes Lambda through the server on MOTO_PORT
        os.environ["MOTO_PORT"] = str(urlsplit(endpoint).port)
    resolver = LocalTemplate(
        template.stack_name, {**template.overrides, **created, **LOCAL_PARAMETERS}, template.template
    )
    for lid in template.of_type("AWS::Serverless::StateMachine"):
        created[lid] = create_state_machine(resolver, lid, role_arn)
    return created


def _ensure_alias(lambda_client: Any, function_name: str, alias: str) -> None:
    try:
        lambda_client.get_alias(FunctionName=function_name, Name=alias)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        version = lambda_client.publish_version(FunctionName=function_name)["Version"]
        lambda_client.create_alias(FunctionName=function_name, Name=alias, FunctionVersion=version)


def state_machine_definition(template: LocalTemplate, logical_id: str) -> str:
    """The DefinitionUri file with its DefinitionSubstitutions applied, as CloudFormation does."""
    props = template.resources[logical_id]["Properties"]
    text = (ROOT / str(props["DefinitionUri"])).read_text()
    for key, value in template.resolve(props.get("DefinitionSubstitutions", {})).items():
        text = text.replace("${" + key + "}", str(value))
    left = re.findall(r"\$\{(\w+)\}", text)
    if left:
        raise ValueError(f"{logical_id}: no DefinitionSubstitutions for {sorted(set(left))}")
    json.loads(text)  # a malformed substitution fails here, not in the first execution
    return text


def create_state_machine(template: LocalTemplate, logical_id: str, role_arn: str) -> str:
    sfn = boto3.client("stepfunctions")
    name = f"{template.stack_name}-{logical_id}"
    definition = state_machine_definition(template, logical_id)
    kind = str(template.resources[logical_id]["Properties"].get("Type", "STANDARD"))
    for machine in sfn.list_state_machines()["stateMachines"]:
        if machine["name"] == name:
            sfn.update_state_machine(stateMachineArn=machine["stateMachineArn"], definition=definition)
            return str(machine["stateMachineArn"])
    return str(
        sfn.create_state_machine(name=name, definition=definition, roleArn=role_arn, type=kind)[
            "stateMachineArn"
        ]
    )
