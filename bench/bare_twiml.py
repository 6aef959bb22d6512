"""The floor for a turn: a Powertools resolver route that answers a fixed <Say> + <Gather>.

Same resolver and parameter validation as our voice webhook (the call's state in the path, as in
its routes), nothing else: what any TwiML webhook on Lambda with Powertools costs."""

import os
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Path

app = APIGatewayRestResolver(enable_validation=True)
DOCUMENT = (
    '<?xml version="1.0" encoding="UTF-8"?><Response>'
    '<Gather input="speech" action="https://abc123.execute-api.us-east-1.amazonaws.com/prod/twilio/turn/c1/2"'
    ' method="POST"><Say>Thanks. Tell me more?</Say></Gather>'
    "</Response>"
)


@app.post("/twilio/turn/<call_id>/<turn>")
def turn(call_id: Annotated[str, Path()], turn: Annotated[int, Path()]) -> Response[str]:
    return Response(status_code=200, content_type="application/xml", body=DOCUMENT)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


_dynamodb: Any = None


def stateful_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The floor with state: the same resolver, plus the two DynamoDB requests a turn cannot do
    without (read the call, write it back: here a same-size copy under another key), raw boto3."""
    global _dynamodb
    if _dynamodb is None:
        import boto3

        _dynamodb = boto3.client("dynamodb")
    table = os.environ["CALLS_TABLE"]
    call_id = event["pathParameters"]["call_id"]
    item = _dynamodb.get_item(TableName=table, Key={"call_id": {"S": call_id}}, ConsistentRead=True)
    copy = {**item["Item"], "call_id": {"S": f"floor-{call_id}"}}
    _dynamodb.put_item(TableName=table, Item=copy)
    return app.resolve(event, context)
