"""API Gateway TOKEN authorizer: ``Authorization: Bearer <token>`` must equal the API token in
Secrets Manager. Raising "Unauthorized" makes API Gateway answer 401; a Deny policy makes it 403."""

from __future__ import annotations

import hmac
from typing import Any

from autocall.observability import logger
from autocall.secrets import get_secret
from aws_lambda_powertools.utilities.typing import LambdaContext


def _policy(effect: str, method_arn: str) -> dict[str, Any]:
    # Allow the whole API (the result is cached per token), not only the method first called.
    arn_parts = method_arn.split("/")
    resource = "/".join(arn_parts[:2]) + "/*" if len(arn_parts) >= 2 else method_arn
    return {
        "principalId": "api-client",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    header = str(event.get("authorizationToken") or "")
    scheme, _, token = header.partition(" ")
    expected = get_secret("api_token")
    if scheme.lower() != "bearer" or not token or not expected:
        raise Exception("Unauthorized")
    if not hmac.compare_digest(token.encode(), expected.encode()):
        logger.info("api token rejected")
        return _policy("Deny", str(event.get("methodArn", "")))
    return _policy("Allow", str(event.get("methodArn", "")))
