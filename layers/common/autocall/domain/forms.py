"""The web-form webhook: a signed form submission becomes a contact and a sales_outreach call.

The form's backend signs each request: ``X-Autocall-Timestamp: <unix seconds>`` and
``X-Autocall-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>``.
Requests older or newer than five minutes are refused; a replayed signature gets the first answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from autocall.adapters.calls import get_call
from autocall.clock import now
from autocall.domain import contacts
from autocall.domain.calls import call_view, trigger_call
from autocall.domain.idempotency import run_once
from autocall.domain.numbers import CallPending
from autocall.domain.phones import check_dialable, to_e164
from autocall.errors import AutocallError, NotFound, ValidationFailed
from autocall.models.api import ContactCreateRequest
from autocall.secrets import form_secret
from pydantic import ValidationError as PydanticValidationError

WINDOW_S = 300
MAX_BODY_BYTES = 16 * 1024  # a web form is small; its extra fields become the call's context
CONTACT_FIELDS = ("name", "phone", "email", "company", "time_zone", "consent_text")


class SignatureInvalid(AutocallError):
    status_code = 401
    code = "invalid_signature"


class PayloadTooLarge(AutocallError):
    status_code = 413
    code = "payload_too_large"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(form_id: str, timestamp: str | None, signature: str | None, body: bytes) -> None:
    secret = form_secret(form_id)
    if secret is None:
        raise NotFound(f"form {form_id!r} is not configured", "form_id")
    if not timestamp or not signature:
        raise SignatureInvalid(
            "X-Autocall-Timestamp and X-Autocall-Signature are required", "X-Autocall-Signature"
        )
    try:
        sent_at = int(timestamp)
    except ValueError as exc:
        raise SignatureInvalid("X-Autocall-Timestamp must be unix seconds", "X-Autocall-Timestamp") from exc
    if abs(now().timestamp() - sent_at) > WINDOW_S:
        raise SignatureInvalid("the request is outside the 5-minute window", "X-Autocall-Timestamp")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature):
        raise SignatureInvalid("the signature does not match the body", "X-Autocall-Signature")


def parse_fields(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the form exceeds {MAX_BODY_BYTES} bytes", "body")
    try:
        fields = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationFailed("the body must be a JSON object", "body") from exc
    if not isinstance(fields, dict):
        raise ValidationFailed("the body must be a JSON object", "body")
    for name in ("name", "phone", "consent_text"):
        if not isinstance(fields.get(name), str) or not fields[name].strip():
            raise ValidationFailed(f"{name} is required", name)
    contact = {k: fields[k] for k in CONTACT_FIELDS[:-1] if fields.get(k) is not None}
    try:  # the same rules as POST /contacts
        ContactCreateRequest.model_validate(contact)
    except PydanticValidationError as exc:
        problem = exc.errors()[0]
        field = str(problem["loc"][0]) if problem["loc"] else "body"
        raise ValidationFailed(f"{field}: {problem['msg']}", field) from exc
    check_dialable(to_e164(fields["phone"]))  # a public form must not reach a premium or foreign line
    return fields


def submit_form(
    form_id: str, timestamp: str | None, signature: str | None, body: bytes
) -> tuple[int, dict[str, Any]]:
    verify(form_id, timestamp, signature, body)
    fields = parse_fields(body)

    def act() -> tuple[int, dict[str, Any]]:
        contact = contacts.upsert_from_form(fields, form_id)
        extra = {k: v for k, v in fields.items() if k not in CONTACT_FIELDS}
        context = {"form_id": form_id, "form_source": "website", **extra}
        try:
            call = trigger_call(contact.contact_id, "sales_outreach", context)
        except CallPending as pending:  # the visitor will be called: a second post adds no call
            return 202, {"contact_id": contact.contact_id, **_pending_view(pending.call_id)}
        return 202, {"contact_id": contact.contact_id, **call_view(call, full=False)}

    return run_once(
        f"form:{form_id}", signature, {"ts": timestamp, "body": body.decode("utf-8", "replace")}, act
    )


def _pending_view(call_id: str) -> dict[str, Any]:
    """The call already pending for the number, as the form's answer shows a call."""
    row = get_call(call_id)
    view = call_view(row, full=False) if row is not None else {"call_id": call_id, "status": "scheduled"}
    return {**view, "already_pending": True}
