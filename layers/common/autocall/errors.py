"""Typed domain errors. Each API maps them to a status code and the JSON body users see:
``{"error": <code>, "message": <human text>, "field": <the offending field or null>}``."""

from __future__ import annotations

from typing import Any


class AutocallError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_body(self) -> dict[str, str | None]:
        return {"error": self.code, "message": self.message, "field": self.field}


class ValidationFailed(AutocallError):
    status_code = 422
    code = "validation_error"


class NotFound(AutocallError):
    status_code = 404
    code = "not_found"


class ContactNotFound(NotFound):
    def __init__(self, contact_id: str, field: str = "contact_id") -> None:
        super().__init__(f"contact {contact_id!r} does not exist", field)


class CampaignNotFound(NotFound):
    def __init__(self, campaign_id: str, field: str = "campaign_id") -> None:
        super().__init__(f"campaign {campaign_id!r} does not exist", field)


class CallNotFound(NotFound):
    def __init__(self, call_id: str, field: str = "call_id") -> None:
        super().__init__(f"call {call_id!r} does not exist", field)


class ContactSuppressed(AutocallError):
    status_code = 409
    code = "suppressed"

    def __init__(self, field: str = "contact_id") -> None:
        super().__init__("the contact's number is on the do-not-call list", field)


class Conflict(AutocallError):
    status_code = 409
    code = "conflict"


class IdempotencyKeyReused(AutocallError):
    status_code = 422
    code = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__(
            "this Idempotency-Key was already used with a different request body", "Idempotency-Key"
        )


class RequestInProgress(AutocallError):
    """The key's first request is still running. Its claim ends with that request's invocation
    (the Lambda's remaining time when it started), so a request cut off mid-way frees the key then."""

    status_code = 409
    code = "request_in_progress"

    def __init__(self, expires_at: str | None = None, retry_after_s: int | None = None) -> None:
        super().__init__("a request with this Idempotency-Key is still being processed", "Idempotency-Key")
        self.expires_at = expires_at
        self.retry_after_s = retry_after_s

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = dict(super().to_body())
        if self.expires_at is not None:
            body["expires_at"] = self.expires_at
            body["retry_after_s"] = self.retry_after_s
        return body


class OptedOut(AutocallError):
    """The number opted out (it is on the do-not-call list): no grant counts until a re-consent is
    recorded through the authenticated API."""

    status_code = 409
    code = "opted_out"

    def __init__(self, field: str = "phone") -> None:
        super().__init__(
            "this number opted out of calls; only a re-consent recorded with "
            "POST /contacts/{contact_id}/consent lifts that",
            field,
        )


class Unauthorized(AutocallError):
    status_code = 401
    code = "unauthorized"
