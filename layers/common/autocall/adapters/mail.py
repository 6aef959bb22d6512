"""SES: plain e-mails and e-mails with attachments (the calendar invite), sent as raw MIME."""

from __future__ import annotations

from dataclasses import dataclass
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr

from autocall.adapters.clients import client
from autocall.config import get_settings


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: str
    subtype: str  # a text/* subtype, e.g. "calendar"
    params: tuple[tuple[str, str], ...] = ()  # extra Content-Type params, e.g. (("method", "REQUEST"),)


def build_message(
    to: list[str], subject: str, body: str, attachments: tuple[Attachment, ...] = ()
) -> MIMEMultipart:
    settings = get_settings()
    message = MIMEMultipart("mixed")
    message["Subject"] = subject
    message["From"] = formataddr(
        (f"{settings.agent_name} at {settings.business_name}", settings.required("sender_email"))
    )
    message["To"] = ", ".join(to)
    message.attach(MIMEText(body, "plain", "utf-8"))
    for item in attachments:
        part = MIMEText(item.content, item.subtype, "utf-8")
        for key, value in item.params:
            part.set_param(key, value)
        part.add_header("Content-Disposition", "attachment", filename=item.filename)
        message.attach(part)
    return message


def send_email(to: list[str], subject: str, body: str, attachments: tuple[Attachment, ...] = ()) -> str:
    """Send one e-mail from the configured sender; returns SES's message id."""
    message = build_message(to, subject, body, attachments)
    response = client("ses").send_raw_email(
        Source=get_settings().required("sender_email"),
        Destinations=to,
        RawMessage={"Data": message.as_bytes()},
    )
    return str(response["MessageId"])
