"""The public REST API: call triggers (the seed's paths), contacts, campaigns, the web-form webhook.
Writes calls; never dials. A campaign's work beyond one request (the rest of a fan-out, steering
sweeps) goes on in the campaign worker function (functions/scheduler/campaign_worker.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from autocall.config import get_settings
from autocall.domain import calls, campaigns, consent, contacts, dial_gate, forms
from autocall.domain.idempotency import run_once
from autocall.errors import AutocallError
from autocall.http import error_response, json_response, undecodable_body, validation_error_response
from autocall.integrations.lambdas import continue_fanout_async, continue_sweep_async
from autocall.models.api import (
    BulkCallsRequest,
    BulkCallsResponse,
    CallingWindowResponse,
    CallResponse,
    CallStatusResponse,
    CallSummaryResponse,
    CampaignCreateRequest,
    CampaignResponse,
    CampaignStatsResponse,
    CampaignSteeringResponse,
    CampaignTriggerRequest,
    CampaignTriggerResponse,
    ConsentRecordedResponse,
    ConsentRequest,
    ConsentResponse,
    ContactCreateRequest,
    ContactListResponse,
    ContactResponse,
    ContactUpdateRequest,
    DialDecisionsResponse,
    ErrorResponse,
    FormCallResponse,
    FormOptOutResponse,
    HandoffCloseRequest,
    TriggerCallRequest,
)
from autocall.observability import logger, metrics, tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

app = APIGatewayRestResolver(enable_validation=True)
app.configure_openapi(
    title="autocall API",
    version="1.0.0",
    security_schemes={"bearerAuth": HTTPBearer(description="the API token (Secrets Manager: api_token)")},
    security=[{"bearerAuth": []}],
)
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]

_REFUSALS = {
    400: "The body is not UTF-8 text",
    401: "No bearer token (or a bad form signature)",
    403: "The bearer token is not valid",
    404: "Not found",
    409: "In conflict with the current state (or the Idempotency-Key's first request still runs)",
    422: "The request is not valid: the offending field is named",
    429: "Too many requests (the gateway's throttle)",
}
_ALWAYS = (400, 401, 403, 422, 429)  # any operation: the gateway, the authorizer, validation


def _answers(
    status: int, model: type[BaseModel], description: str, *refusals: int
) -> dict[int, OpenAPIResponse]:
    """An operation's documented answers: its success body and our error body on its refusals."""
    answers: dict[int, OpenAPIResponse] = {
        status: {"description": description, "content": {"application/json": {"model": model}}}
    }
    for code in sorted({*_ALWAYS, *refusals}):
        answers[code] = {
            "description": _REFUSALS[code],
            "content": {"application/json": {"model": ErrorResponse}},
        }
    return answers


@app.exception_handler(AutocallError)
def _domain_error(exc: AutocallError) -> Response[Any]:
    return error_response(exc)


@app.exception_handler(RequestValidationError)
def _invalid_request(exc: RequestValidationError) -> Response[Any]:
    return validation_error_response(exc)


def _idempotent(scope: str, key: str | None, payload: Any, action: Any) -> Response[Any]:
    """Once per Idempotency-Key; the key's in-progress claim ends with this invocation."""
    status, body = run_once(scope, key, payload, action, app.lambda_context)
    return json_response(status, body)


def _worker_arn() -> str:
    """The campaign worker, the one function this one invokes (its policy allows no other)."""
    return get_settings().required("campaign_worker_function_arn")


def _continue_fanout() -> Callable[[str], None]:
    """Carries a campaign's fan-out on in the campaign worker."""
    return lambda campaign_id: continue_fanout_async(_worker_arn(), campaign_id)


def _continue_sweep() -> Callable[[dict[str, Any]], None]:
    """Carries a pause, resume or cancel sweep on in the campaign worker."""
    return lambda sweep: continue_sweep_async(_worker_arn(), sweep)


# --- the seed's call endpoints -------------------------------------------------------------


@app.post(
    "/calls/api/calls/trigger_autonomous_call/",
    responses=_answers(202, CallSummaryResponse, "The call is scheduled", 404, 409),
)
def trigger_autonomous_call(
    request: TriggerCallRequest, idempotency_key: IdempotencyKey = None
) -> Response[Any]:
    def act() -> tuple[int, dict[str, Any]]:
        row = calls.place_request(
            calls.prepare_call(
                request.contact_id,
                request.call_purpose,
                request.context,
                request.scheduled_time,
                idempotency_key=idempotency_key,  # the call's id: a retry of a cut-off request finds it
                voice_mode=request.voice_mode,
            )
        )
        return 202, calls.call_view(row, full=False)

    return _idempotent("trigger", idempotency_key, request.model_dump(mode="json"), act)


@app.post(
    "/calls/api/calls/bulk_autonomous_calls/",
    responses=_answers(202, BulkCallsResponse, "Every call is scheduled", 404, 409),
)
def bulk_autonomous_calls(request: BulkCallsRequest, idempotency_key: IdempotencyKey = None) -> Response[Any]:
    def act() -> tuple[int, dict[str, Any]]:
        rows = calls.trigger_bulk(request.calls)
        return 202, {"count": len(rows), "calls": [calls.call_view(r, full=False) for r in rows]}

    return _idempotent("bulk", idempotency_key, request.model_dump(mode="json"), act)


@app.post(
    "/calls/api/calls/trigger_campaign_calls/",
    responses=_answers(202, CampaignTriggerResponse, "The fan-out started", 404, 409),
)
def trigger_campaign_calls(
    request: CampaignTriggerRequest, idempotency_key: IdempotencyKey = None
) -> Response[Any]:
    def act() -> tuple[int, dict[str, Any]]:
        purpose = request.call_purpose.value if request.call_purpose else None
        return 202, campaigns.trigger_campaign(
            request.campaign_id,
            purpose,
            request.stagger_minutes,
            continue_later=_continue_fanout(),
        )

    return _idempotent("campaign", idempotency_key, request.model_dump(mode="json"), act)


@app.get(
    "/calls/api/calls/autonomous_call_status/",
    responses=_answers(200, CallStatusResponse, "The contact's recent calls", 404),
)
def autonomous_call_status(
    contact_id: Annotated[str, Query(min_length=1, max_length=128)],
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> Response[Any]:
    return json_response(200, calls.status_for_contact(contact_id, limit))


@app.get("/calls/<call_id>", responses=_answers(200, CallResponse, "The call", 404))
def get_call(call_id: Annotated[str, Path(max_length=128)]) -> Response[Any]:
    return json_response(200, _call_body(calls.get_call(call_id)))


def _call_body(row: Any) -> dict[str, Any]:
    """A call in full, with its dial decisions from the audit table."""
    return {**calls.call_view(row), "dial_decisions": dial_gate.decisions_for_call(row.call_id)}


@app.delete("/calls/<call_id>", responses=_answers(200, CallResponse, "The call, canceled", 404, 409))
def cancel_call(call_id: Annotated[str, Path(max_length=128)]) -> Response[Any]:
    return json_response(200, _call_body(calls.cancel_call(call_id)))


@app.post(
    "/calls/<call_id>/handoff/close",
    responses=_answers(200, CallResponse, "The call, its follow-up closed", 404, 409),
)
def close_handoff(
    call_id: Annotated[str, Path(max_length=128)],
    request: Annotated[HandoffCloseRequest | None, Body()] = None,
    idempotency_key: IdempotencyKey = None,
) -> Response[Any]:
    """A person called back the callee who asked for one: the follow-up is closed."""
    closing = request or HandoffCloseRequest()

    def act() -> tuple[int, dict[str, Any]]:
        return 200, _call_body(calls.close_handoff(call_id, closing.closed_by, closing.note))

    return _idempotent("handoff-close", idempotency_key, {"call_id": call_id, **closing.model_dump()}, act)


# --- contacts ---------------------------------------------------------------------------------


@app.post("/contacts", responses=_answers(201, ContactResponse, "The contact", 409))
def create_contact(request: ContactCreateRequest, idempotency_key: IdempotencyKey = None) -> Response[Any]:
    def act() -> tuple[int, dict[str, Any]]:
        row = contacts.create_contact(request)
        return 201, contacts.contact_view(row)

    return _idempotent("contact", idempotency_key, request.model_dump(mode="json"), act)


@app.get("/contacts", responses=_answers(200, ContactListResponse, "Contacts"))
def list_contacts(
    tag: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response[Any]:
    rows = contacts.list_contacts(tag, limit)
    return json_response(200, {"contacts": [contacts.contact_view(r) for r in rows], "count": len(rows)})


@app.get("/contacts/<contact_id>", responses=_answers(200, ContactResponse, "The contact", 404))
def get_contact(contact_id: Annotated[str, Path(max_length=128)]) -> Response[Any]:
    return json_response(200, contacts.contact_view(contacts.get_contact(contact_id)))


@app.patch("/contacts/<contact_id>", responses=_answers(200, ContactResponse, "The contact", 404, 409))
def update_contact(
    contact_id: Annotated[str, Path(max_length=128)], request: ContactUpdateRequest
) -> Response[Any]:
    row = contacts.update_contact(contact_id, request)
    return json_response(200, contacts.contact_view(row))


@app.get(
    "/contacts/<contact_id>/consent", responses=_answers(200, ConsentResponse, "The contact's consent", 404)
)
def get_consent(contact_id: Annotated[str, Path(max_length=128)]) -> Response[Any]:
    return json_response(200, consent.consent_view(contacts.get_contact(contact_id)))


@app.get(
    "/contacts/<contact_id>/dial-decisions",
    responses=_answers(200, DialDecisionsResponse, "The contact's dial decisions, newest first", 404),
)
def get_dial_decisions(
    contact_id: Annotated[str, Path(max_length=128)],
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response[Any]:
    return json_response(200, dial_gate.decisions_for_contact(contact_id, limit, cursor))


@app.get(
    "/contacts/<contact_id>/calling-window",
    responses=_answers(200, CallingWindowResponse, "The next allowed moments and the rules behind them", 404),
)
def get_calling_window(
    contact_id: Annotated[str, Path(max_length=128)],
    purpose: Annotated[str, Query(min_length=1, max_length=64)],
) -> Response[Any]:
    return json_response(200, dial_gate.calling_window(contact_id, purpose))


@app.post(
    "/contacts/<contact_id>/consent",
    responses=_answers(201, ConsentRecordedResponse, "The consent, recorded", 404, 409),
)
def record_consent(
    contact_id: Annotated[str, Path(max_length=128)],
    request: ConsentRequest,
    idempotency_key: IdempotencyKey = None,
) -> Response[Any]:
    """A consent recorded through the authenticated API: the one way to lift an opt-out."""

    def act() -> tuple[int, dict[str, Any]]:
        contact = contacts.get_contact(contact_id)
        row, entry = consent.re_consent(contact, request.consent_text, request.source)
        return 201, {**consent.consent_view(row), "recorded": consent.record_view(entry)}

    payload = {"contact_id": contact_id, **request.model_dump(mode="json")}
    return _idempotent("consent", idempotency_key, payload, act)


# --- campaigns --------------------------------------------------------------------------------


@app.post("/campaigns", responses=_answers(201, CampaignResponse, "The campaign, in draft", 409))
def create_campaign(request: CampaignCreateRequest, idempotency_key: IdempotencyKey = None) -> Response[Any]:
    def act() -> tuple[int, dict[str, Any]]:
        row = campaigns.create_campaign(request)
        return 201, campaigns.campaign_view(row)

    return _idempotent("campaign-create", idempotency_key, request.model_dump(mode="json"), act)


@app.get("/campaigns/<campaign_id>", responses=_answers(200, CampaignResponse, "The campaign", 404))
def get_campaign(campaign_id: Annotated[str, Path(max_length=128)]) -> Response[Any]:
    return json_response(200, campaigns.campaign_view(campaigns.get_campaign(campaign_id)))


@app.get(
    "/campaigns/<campaign_id>/stats",
    responses=_answers(200, CampaignStatsResponse, "The campaign's stats", 404),
)
def campaign_stats(campaign_id: Annotated[str, Path(max_length=128)]) -> Response[Any]:
    return json_response(200, campaigns.campaign_stats(campaign_id))


@app.post(
    "/campaigns/<campaign_id>/pause",
    responses=_answers(202, CampaignSteeringResponse, "Paused; its calls follow", 404, 409),
)
def pause_campaign(
    campaign_id: Annotated[str, Path(max_length=128)], idempotency_key: IdempotencyKey = None
) -> Response[Any]:
    sweep_later = _continue_sweep()
    return _idempotent(
        "campaign-pause",
        idempotency_key,
        campaign_id,
        lambda: (202, campaigns.pause_campaign(campaign_id, sweep_later)),
    )


@app.post(
    "/campaigns/<campaign_id>/resume",
    responses=_answers(202, CampaignSteeringResponse, "Running; its calls follow", 404, 409),
)
def resume_campaign(
    campaign_id: Annotated[str, Path(max_length=128)], idempotency_key: IdempotencyKey = None
) -> Response[Any]:
    continue_later = _continue_fanout()
    sweep_later = _continue_sweep()
    return _idempotent(
        "campaign-resume",
        idempotency_key,
        campaign_id,
        lambda: (202, campaigns.resume_campaign(campaign_id, continue_later, sweep_later)),
    )


@app.post(
    "/campaigns/<campaign_id>/cancel",
    responses=_answers(202, CampaignSteeringResponse, "Canceled; its calls follow", 404, 409),
)
def cancel_campaign(
    campaign_id: Annotated[str, Path(max_length=128)], idempotency_key: IdempotencyKey = None
) -> Response[Any]:
    sweep_later = _continue_sweep()
    return _idempotent(
        "campaign-cancel",
        idempotency_key,
        campaign_id,
        lambda: (202, campaigns.cancel_campaign(campaign_id, sweep_later)),
    )


# --- the web-form webhook (HMAC-signed, no bearer token) ---------------------------------------


@app.post(
    "/forms/<form_id>",
    security=[{}],  # no bearer token: HMAC-signed with the form's own secret
    responses={
        200: {
            "description": "The number opted out",
            "content": {"application/json": {"model": FormOptOutResponse}},
        },
        **{
            code: answer
            for code, answer in _answers(
                202, FormCallResponse, "The visitor will be called", 401, 409
            ).items()
            if code != 403  # no authorizer on this route
        },
    },
)
def submit_form(form_id: Annotated[str, Path(max_length=64)]) -> Response[Any]:
    event = app.current_event
    identity = event.request_context.identity
    user_agent = event.headers.get("User-Agent") or event.headers.get("user-agent") or identity.user_agent
    status, body = forms.submit_form(
        form_id,
        event.headers.get("X-Autocall-Timestamp") or event.headers.get("x-autocall-timestamp"),
        event.headers.get("X-Autocall-Signature") or event.headers.get("x-autocall-signature"),
        event.decoded_body.encode() if isinstance(event.decoded_body, str) else (event.decoded_body or b""),
        forms.FormOrigin(
            ip=identity.source_ip,
            user_agent=user_agent,
        ),
        app.lambda_context,
    )
    return json_response(status, body)


@app.get(
    "/openapi.json",
    responses={
        200: {
            "description": "This document (OpenAPI 3)",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        **{code: answer for code, answer in _answers(200, ErrorResponse, "").items() if code != 200},
    },
)
def openapi_document() -> Response[Any]:
    return Response(
        status_code=200,
        content_type="application/json",
        body=app.get_openapi_json_schema(),
    )


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return undecodable_body(event) or app.resolve(event, context)
