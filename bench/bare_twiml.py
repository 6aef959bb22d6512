"""The floor for a turn: a Powertools resolver route that answers a fixed <Say> + <Gather>.

Same resolver and query validation as our voice webhook, nothing else: what any TwiML webhook on
Lambda with Powertools costs."""

import os
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Query

app = APIGatewayRestResolver(enable_validation=True)
DOCUMENT = (
    '<?xml version="1.0" encoding="UTF-8"?><Response>'
    '<Gather input="speech" action="/twilio/turn" method="POST"><Say>Thanks. Tell me more?</Say></Gather>'
    "</Response>"
)


@app.post("/twilio/turn")
def turn(call_id: Annotated[str, Query()], turn: Annotated[int, Query()]) -> Response[str]:
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
    query = event["queryStringParameters"]
    item = _dynamodb.get_item(TableName=table, Key={"call_id": {"S": query["call_id"]}}, ConsistentRead=True)
    copy = {**item["Item"], "call_id": {"S": f"floor-{query['call_id']}"}}
    _dynamodb.put_item(TableName=table, Item=copy)
    return app.resolve(event, context)
