"""The web-form webhook: a signed form submission is a grant of consent for a number, recorded with
its evidence, and a sales_outreach call; or, with ``"opt_out": true``, an opt-out.

The form's backend signs each request: ``X-Autocall-Timestamp: <unix seconds>`` and
``X-Autocall-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>``.
Requests older or newer than five minutes are refused; a replayed signature gets the first answer.
An unknown form id is checked against a secret nobody has, so it answers exactly as a bad
signature does: form ids cannot be found by trying them.

A form is public input. It never changes an existing contact's name, e-mail, company or time zone
(what it brought is kept beside them, in ``form_submissions``), it cannot set a context key the
server sets or reads as its own, and a number that opted out gets 409 with nothing written.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from autocall.clock import now
from autocall.domain import consent, contacts
from autocall.domain.calls import call_view, trigger_call
from autocall.domain.consent import ConsentSource, Evidence
from autocall.domain.idempotency import LambdaDeadline, run_once
from autocall.domain.numbers import CallPending
from autocall.domain.phones import check_dialable, to_e164
from autocall.errors import AutocallError, ValidationFailed
from autocall.models.api import ContactCreateRequest
from autocall.secrets import form_secret
from autocall.stores.calls import get_call
from pydantic import ValidationError as PydanticValidationError

WINDOW_S = 300
MAX_BODY_BYTES = 16 * 1024  # a web form is small; its extra fields become the call's context
CONTACT_FIELDS = ("name", "phone", "email", "company", "time_zone", "consent_text")
EVIDENCE_FIELDS = ("page_url", "opt_out")
# Context keys only the server sets (or reads as set by itself): a form field of that name is
# dropped, and the server's own values are written last. source_call_id links a call into another
# call's follow-up chain (the follow-up cap counts it); callback_number is the number the agent
# reads out in a voicemail.
SERVER_CONTEXT_KEYS = frozenset({"form_id", "form_source", "source_call_id", "callback_number"})
MAX_PAGE_URL = 2048
_PAGE_URL = re.compile(r"^https?://[^\s\x00-\x1f\x7f]+$")
# An unknown form id is verified against this: no request can carry a valid signature for it.
_NOBODYS_SECRET = secrets.token_hex(32)


class SignatureInvalid(AutocallError):
    status_code = 401
    code = "invalid_signature"


class PayloadTooLarge(AutocallError):
    status_code = 413
    code = "payload_too_large"


@dataclass(frozen=True)
class FormOrigin:
    """What the request itself says about where it came from (the form backend's request)."""

    ip: str | None = None
    user_agent: str | None = None


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(form_id: str, timestamp: str | None, signature: str | None, body: bytes) -> None:
    """Every failure, an unknown form id included, answers as the same request to a known form
    with a wrong secret would."""
    secret = form_secret(form_id) or _NOBODYS_SECRET
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


def _json_object(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the form exceeds {MAX_BODY_BYTES} bytes", "body")
    try:
        fields = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationFailed("the body must be a JSON object", "body") from exc
    if not isinstance(fields, dict):
        raise ValidationFailed("the body must be a JSON object", "body")
    return fields


def _page_url(fields: dict[str, Any]) -> str | None:
    value = fields.get("page_url")
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_PAGE_URL or not _PAGE_URL.match(value):
        message = f"page_url must be an http(s) URL of at most {MAX_PAGE_URL} characters"
        raise ValidationFailed(message, "page_url")
    return value


def parse_fields(body: bytes) -> dict[str, Any]:
    fields = _json_object(body)
    opt_out = fields.get("opt_out")
    if opt_out is not None and not isinstance(opt_out, bool):
        raise ValidationFailed("opt_out must be true or false", "opt_out")
    required = ("phone",) if opt_out else ("name", "phone", "consent_text")
    for name in required:
        if not isinstance(fields.get(name), str) or not fields[name].strip():
            raise ValidationFailed(f"{name} is required", name)
    _page_url(fields)
    if opt_out:
        to_e164(fields["phone"])
        return fields
    contact = {k: fields[k] for k in CONTACT_FIELDS[:-1] if fields.get(k) is not None}
    try:  # the same rules as POST /contacts
        ContactCreateRequest.model_validate(contact)
    except PydanticValidationError as exc:
        problem = exc.errors()[0]
        field = str(problem["loc"][0]) if problem["loc"] else "body"
        raise ValidationFailed(f"{field}: {problem['msg']}", field) from exc
    if len(fields["consent_text"]) > 2000:
        raise ValidationFailed("consent_text must be at most 2000 characters", "consent_text")
    if fields.get("time_zone") is not None:
        try:  # kept beside an existing contact's own zone, used for a new one: a real zone either way
            ZoneInfo(fields["time_zone"])
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationFailed(
                f"time_zone {fields['time_zone']!r} is not an IANA time zone", "time_zone"
            ) from exc
    check_dialable(to_e164(fields["phone"]))  # a public form must not reach a premium or foreign line
    return fields


def call_context(form_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The form's extra fields as the call's context; the server's keys cannot be set by a form."""
    extra = {
        k: v
        for k, v in fields.items()
        if k not in CONTACT_FIELDS and k not in EVIDENCE_FIELDS and k not in SERVER_CONTEXT_KEYS
    }
    return {**extra, "form_id": form_id, "form_source": "website"}


def _evidence(form_id: str, fields: dict[str, Any], origin: FormOrigin) -> Evidence:
    return Evidence(
        ConsentSource.FORM,
        text=fields.get("consent_text"),
        form_id=form_id,
        page_url=_page_url(fields),
        ip=origin.ip,
        user_agent=(origin.user_agent or "")[:512] or None,
    )


def _submission(form_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """What the form said about the person, kept beside the contact's own fields."""
    entry: dict[str, Any] = {"form_id": form_id, "at": now().isoformat()}
    for name in ("name", "email", "company", "time_zone", "page_url"):
        if fields.get(name) is not None:
            entry[name] = fields[name]
    ignored = sorted(k for k in fields if k in SERVER_CONTEXT_KEYS)
    if ignored:
        entry["ignored_fields"] = ignored
    return entry


def submit_form(
    form_id: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    origin: FormOrigin | None = None,
    deadline: LambdaDeadline | None = None,
) -> tuple[int, dict[str, Any]]:
    verify(form_id, timestamp, signature, body)
    fields = parse_fields(body)
    evidence = _evidence(form_id, fields, origin or FormOrigin())

    def opt_out() -> tuple[int, dict[str, Any]]:
        phone = to_e164(fields["phone"])
        consent.revoke(phone, evidence, "opted_out_via_form")
        return 200, {"phone": phone, "opted_out": True}

    def grant_and_call() -> tuple[int, dict[str, Any]]:
        contact = contacts.record_form_submission(fields, evidence, _submission(form_id, fields))
        try:
            call = trigger_call(contact.contact_id, "sales_outreach", call_context(form_id, fields))
        except CallPending as pending:  # the visitor will be called: a second post adds no call
            return 202, {"contact_id": contact.contact_id, **_pending_view(pending.call_id)}
        return 202, {"contact_id": contact.contact_id, **call_view(call, full=False)}

    return run_once(
        f"form:{form_id}",
        signature,
        {"ts": timestamp, "body": body.decode("utf-8", "replace")},
        opt_out if fields.get("opt_out") else grant_and_call,
        deadline,
    )


def _pending_view(call_id: str) -> dict[str, Any]:
    """The call already pending for the number, as the form's answer shows a call."""
    row = get_call(call_id)
    view = call_view(row, full=False) if row is not None else {"call_id": call_id, "status": "scheduled"}
    return {**view, "already_pending": True}
