"""SNS: notifications to the team (sales, support, renewals), with attributes to filter on."""

from __future__ import annotations

from autocall.integrations.clients import client


def publish(topic_arn: str, subject: str, message: str, attributes: dict[str, str]) -> str:
    """Publish one notification; SNS subjects are one line of at most 100 characters."""
    response = client("sns").publish(
        TopicArn=topic_arn,
        Subject=" ".join(subject.split())[:100],
        Message=message,
        MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
    )
    return str(response["MessageId"])
