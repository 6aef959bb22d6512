"""SES: plain e-mails and e-mails with attachments (the calendar invite), sent as raw MIME."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr

from autocall.config import get_settings
from autocall.integrations.clients import client

# CR, LF and every other control or line-breaking character: in a header value any of them could
# start a header of its own ("\r\nBcc: ...") or break the message (HeaderParseError)
_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
MAX_HEADER_CHARS = 200


def header_value(text: str, limit: int = MAX_HEADER_CHARS) -> str:
    """``text`` as one line fit for a header: line breaks and control characters become spaces.
    Subjects carry contact and form values (a name, a form's product interest): public input."""
    return " ".join(_BREAKS.sub(" ", text).split())[:limit]


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
    message["Subject"] = header_value(subject)
    message["From"] = formataddr(
        (
            header_value(f"{settings.agent_name} at {settings.business_name}"),
            header_value(settings.required("sender_email")),
        )
    )
    message["To"] = ", ".join(header_value(address, 254) for address in to)
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
