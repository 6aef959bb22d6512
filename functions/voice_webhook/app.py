"""Every Twilio webhook of a call: answer, turn, AMD, status. The signature is checked before
anything else; a bad one gets 403 and changes nothing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any
from urllib.parse import parse_qsl

from autocall.config import get_settings
from autocall.domain import call_end, conversation, prompts, realtime
from autocall.errors import AutocallError, ValidationFailed
from autocall.http import error_response, json_response, undecodable_body, validation_error_response
from autocall.integrations.twilio import signature as twilio_signature
from autocall.integrations.twilio import status as twilio_status
from autocall.integrations.twilio import twiml
from autocall.integrations.twilio.client import get_telephony
from autocall.observability import count, logger, metrics, tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.utilities.typing import LambdaContext

_BASE_PATH = get_settings().api_base_path.strip("/")
app = APIGatewayRestResolver(
    enable_validation=True, strip_prefixes=[f"/{_BASE_PATH}"] if _BASE_PATH else None
)
MAX_FORM_BYTES = 64 * 1024
MISSED_IT = "Sorry, I missed that. Could you say it again?"
RELAY_FAILED = "Sorry, something went wrong on our side. We'll call you back. Goodbye."


@app.exception_handler(AutocallError)
def _domain_error(exc: AutocallError) -> Response[Any]:
    return error_response(exc)


@app.exception_handler(RequestValidationError)
def _invalid_request(exc: RequestValidationError) -> Response[Any]:
    return validation_error_response(exc)


def _parse_form(body: str) -> dict[str, str]:
    return dict(parse_qsl(body, keep_blank_values=True))


def _form(*required: str) -> dict[str, str]:
    """The POSTed parameters (parsed once, by the signature check); Twilio always sends ``required``,
    so a request without them is refused."""
    form: dict[str, str] | None = app.context.get("twilio_form")
    if form is None:
        form = _parse_form(app.current_event.decoded_body or "")
    for name in required:
        if not form.get(name):
            raise ValidationFailed(f"{name} is required", name)
    return form


def _one_of(form: dict[str, str], name: str, allowed: Iterable[str]) -> str:
    if form[name] not in allowed:
        raise ValidationFailed(f"{name} must be one of {', '.join(sorted(allowed))}", name)
    return form[name]


def _xml(document: str, status: int = 200) -> Response[str]:
    return Response(status_code=status, content_type="application/xml", body=document)


def verify_twilio(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    event = app.current_event
    headers = event.headers  # case-insensitive; each read of ``event.headers`` builds a new copy
    content_type = (headers.get("Content-Type") or "").lower()
    body = event.decoded_body or ""
    if len(body.encode("utf-8", "replace")) > MAX_FORM_BYTES:
        return _refuse(413, "payload_too_large", f"the body exceeds {MAX_FORM_BYTES} bytes", "body")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        message = "Twilio webhooks are application/x-www-form-urlencoded"
        return _refuse(415, "unsupported_media_type", message, "Content-Type")
    form = _parse_form(body)
    url = twilio_signature.public_url(event.raw_event)
    if not twilio_signature.is_valid(url, form, headers.get("X-Twilio-Signature")):
        logger.warning("rejected a webhook with a bad Twilio signature")
        message = "the signature does not match the request"
        return _refuse(403, "invalid_signature", message, "X-Twilio-Signature")
    app.append_context(twilio_form=form)  # the routes read the form checked here (cleared per request)
    return next_middleware(app)


def _refuse(status: int, error: str, message: str, field: str) -> Response[Any]:
    return json_response(status, {"error": error, "message": message, "field": field})


app.use(middlewares=[verify_twilio])
CallId = Annotated[str, Path(min_length=1, max_length=64)]


def _base() -> str:
    """The API's public base URL as Twilio reached it (host, stage or base path): every URL in our
    TwiML is absolute and starts with it."""
    return twilio_signature.public_base(app.current_event.raw_event, _BASE_PATH)


@app.post("/twilio/answer/<call_id>")
def answer(call_id: CallId) -> Response[str]:
    logger.append_keys(call_id=call_id)
    form = _form("CallSid")
    reply = conversation.answer(call_id, form["CallSid"])
    return _xml(twiml.render(reply.prompt, twiml.turn_urls(_base(), call_id), _relay(call_id)))


def _relay(call_id: str) -> twiml.RelayUrls | None:
    """The realtime session's URLs of the call (None where no WebSocket API is configured)."""
    realtime_url = get_settings().realtime_url
    return twiml.relay_urls(_base(), realtime_url, call_id) if realtime_url else None


@app.post("/twilio/turn/<call_id>/<turn>")
def turn(call_id: CallId, turn: Annotated[int, Path(ge=1, le=1000)]) -> Response[str]:
    logger.append_keys(call_id=call_id)
    form = _form("CallSid")
    confidence = _float(form.get("Confidence"))
    turn_urls = twiml.turn_urls(_base(), call_id)
    try:
        reply = conversation.take_turn(call_id, turn, form.get("SpeechResult"), confidence, form["CallSid"])
    except Exception:
        # No dead air: whatever failed, the caller hears a line and the same turn is asked again.
        logger.exception("turn failed")
        count("TurnFailures")  # alarmed: the failure may be DynamoDB itself, so it cannot go on the call
        return _xml(twiml.render(prompts.listen(MISSED_IT, turn), turn_urls))
    return _xml(twiml.render(reply.prompt, turn_urls))


@app.post("/twilio/amd/<call_id>")
def amd(call_id: CallId) -> Response[str]:
    logger.append_keys(call_id=call_id)
    form = _form("CallSid", "AnsweredBy")
    answered_by = _one_of(form, "AnsweredBy", twilio_status.ANSWERED_BY)
    voicemail = conversation.machine_answered(call_id, answered_by, form["CallSid"])
    if voicemail is not None:  # played into the call's own SID, as stored
        get_telephony().play_twiml(voicemail.call_sid, twiml.render(voicemail.prompt))
    return _xml(twiml.empty())


@app.post("/twilio/status/<call_id>")
def status(call_id: CallId) -> Response[str]:
    logger.append_keys(call_id=call_id)
    form = _form("CallSid", "CallStatus")
    duration = form.get("CallDuration")
    if duration and not duration.isdigit():
        raise ValidationFailed("CallDuration must be a whole number of seconds", "CallDuration")
    status = twilio_status.CALL_STATUS[_one_of(form, "CallStatus", twilio_status.CALL_STATUS)]
    call_end.status_reported(
        call_id, status, form["CallSid"], int(duration) if duration else None, form.get("AnsweredBy")
    )
    return _xml(twiml.empty())


@app.post("/twilio/relay/<call_id>")
def relay_ended(call_id: CallId) -> Response[str]:
    """The ``<Connect action>`` of a realtime call: its session ended; what the carrier does next."""
    logger.append_keys(call_id=call_id)
    form = _form("CallSid")
    status_name = form.get("CallStatus")
    status = twilio_status.CALL_STATUS.get(status_name) if status_name else None
    duration = form.get("CallDuration") or form.get("SessionDuration")
    try:
        prompt = realtime.session_ended(
            call_id,
            form["CallSid"],
            status,
            form.get("SessionStatus", ""),
            int(duration) if duration and duration.isdigit() else None,
        )
    except Exception:
        logger.exception("relay webhook failed")  # no dead air: a line before the line closes
        count("TurnFailures")
        return _xml(twiml.render(prompts.say_and_hang_up(RELAY_FAILED)))
    return _xml(twiml.render(prompt, twiml.turn_urls(_base(), call_id)))


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return undecodable_body(event) or app.resolve(event, context)
