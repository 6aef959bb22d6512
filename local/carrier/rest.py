"""The simulator's HTTP face: Twilio's 2010-04-01 REST API for calls and messages, and /sim/ controls.

Twilio shapes throughout: form-encoded requests, JSON answers with the fields the ``twilio`` client
parses, errors as ``{"code", "message", "more_info", "status"}``, HTTP basic auth (account SID, auth token).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from autocall import clock

from local.carrier.records import TERMINAL, Carrier, SimCall, SimMessage

logger = logging.getLogger("local.carrier")
API = "/2010-04-01/Accounts/(?P<account>AC[0-9A-Za-z]+)"
E164 = re.compile(r"\+[1-9]\d{7,14}")
STATUS_EVENTS = ("initiated", "ringing", "answered", "completed")


class ApiError(Exception):
    def __init__(self, http_status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.http_status, self.code, self.message = http_status, code, message

    def payload(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.http_status,
        }


@dataclass
class Request:
    path: dict[str, str]  # named groups of the route
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    body: bytes

    def arg(self, name: str, default: str = "") -> str:
        values = self.form.get(name) or self.query.get(name)
        return values[0] if values else default

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.arg(name)
        try:
            return min(max(int(raw), low), high) if raw else default
        except ValueError as exc:
            raise ApiError(400, 20001, f"{name} must be an integer, not {raw!r}") from exc

    def json(self) -> dict[str, Any]:
        try:
            data = json.loads(self.body or b"{}")
        except ValueError as exc:
            raise ApiError(400, 400, f"body is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ApiError(400, 400, "body must be a JSON object")
        return data


@dataclass
class Reply:
    status: int
    payload: Any
    after: Callable[[], None] | None = None  # runs once the answer is sent (a call starts dialing)
    headers: dict[str, str] = field(default_factory=dict)


Route = Callable[[Carrier, Request], Reply]


# -- calls ------------------------------------------------------------------------------------


def create_call(sim: Carrier, request: Request) -> Reply:
    fault = sim._take_fault()
    if fault == "429":
        raise ApiError(429, 20429, "Too Many Requests")
    if fault == "500":
        raise ApiError(500, 20500, "Internal Server Error")
    to, from_, url, twiml = (request.arg(name) for name in ("To", "From", "Url", "Twiml"))
    if not to:
        raise ApiError(400, 21201, "No 'To' number is specified")
    if not E164.fullmatch(to):
        raise ApiError(400, 21211, f"Invalid 'To' Phone Number: {to}")
    if not from_:
        raise ApiError(400, 21213, "No 'From' number is specified")
    if not E164.fullmatch(from_):
        raise ApiError(400, 21212, f"Invalid From Number (caller ID): {from_}")
    if from_ in sim.unverified_caller_ids:
        raise ApiError(
            400,
            21210,
            f"The source phone number provided, {from_}, is not yet verified for your account. "
            "You may only make calls from phone numbers that you've verified or purchased from Twilio.",
        )
    if not (twiml or url.startswith(("http://", "https://"))):
        raise ApiError(400, 21205, f"Url is not a valid URL: {url!r}")
    events = [
        e for value in request.form.get("StatusCallbackEvent", []) for e in value.replace(",", " ").split()
    ]
    call = sim._new_call(
        account_sid=request.path["account"],
        to=to,
        from_=from_,
        url=url,
        method=request.arg("Method", "POST"),
        twiml=twiml,
        status_callback=request.arg("StatusCallback"),
        status_callback_method=request.arg("StatusCallbackMethod", "POST"),
        status_callback_events=tuple(e for e in STATUS_EVENTS if e in events) or ("completed",),
        machine_detection=request.arg("MachineDetection"),
        async_amd=request.arg("AsyncAmd").lower() == "true",
        amd_callback=request.arg("AsyncAmdStatusCallback"),
        amd_callback_method=request.arg("AsyncAmdStatusCallbackMethod", "POST"),
        timeout=request.integer("Timeout", 60, 5, 600),
    )
    if fault == "500_placed":  # the carrier placed the call, the API still failed: the case to reconcile
        sim._launch(call.sid)
        raise ApiError(500, 20500, "Internal Server Error")
    return Reply(201, call_resource(call), after=lambda: sim._launch(call.sid))


def fetch_call(sim: Carrier, request: Request) -> Reply:
    return Reply(200, call_resource(_call(sim, request)))


def update_call(sim: Carrier, request: Request) -> Reply:
    call = _call(sim, request)
    status, url, twiml = request.arg("Status"), request.arg("Url"), request.arg("Twiml")
    if status:
        if status not in ("completed", "canceled"):
            raise ApiError(400, 21218, f"Invalid Status: {status}")
        return Reply(200, call_resource(sim._request_hangup(call.sid, status)))
    if (url or twiml) and not sim._request_redirect(call.sid, url, request.arg("Method", "POST"), twiml):
        raise ApiError(400, 21220, "Call is not in-progress. Cannot redirect.")
    return Reply(200, call_resource(sim.get_call(call.sid)))


def list_calls(sim: Carrier, request: Request) -> Reply:
    filters = {
        name: request.arg(name)
        for name in ("To", "From", "Status", "StartTime", "StartTime>", "StartTime<")
        if request.arg(name)
    }
    calls = [
        call
        for call in sim.calls(filters.get("To"))
        if call.account_sid == request.path["account"] and _matches(call, filters)
    ]
    calls.sort(key=lambda call: call.date_created, reverse=True)
    return Reply(200, _page(request, "calls", [call_resource(call) for call in calls], filters))


def call_resource(call: SimCall) -> dict[str, Any]:
    uri = f"/2010-04-01/Accounts/{call.account_sid}/Calls/{call.sid}"
    status = call.status
    if call.hangup_requested and status not in TERMINAL:
        status = "completed" if call.answer_time else "canceled"
    return {
        "sid": call.sid,
        "account_sid": call.account_sid,
        "to": call.to,
        "to_formatted": _formatted(call.to),
        "from": call.from_,
        "from_formatted": _formatted(call.from_),
        "status": status,
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "answered_by": call.answered_by,
        "annotation": None,
        "caller_name": None,
        "forwarded_from": None,
        "group_sid": None,
        "parent_call_sid": None,
        "phone_number_sid": None,
        "price": None,
        "price_unit": "USD",
        "queue_time": "0",
        "trunk_sid": None,
        "date_created": _rfc2822(call.date_created),
        "date_updated": _rfc2822(clock.now()),
        "start_time": _rfc2822(call.start_time),
        "end_time": _rfc2822(call.end_time),
        "duration": None if call.duration is None else str(call.duration),
        "uri": f"{uri}.json",
        "subresource_uris": {
            name: f"{uri}/{name.title()}.json"
            for name in ("notifications", "recordings", "events", "streams")
        },
    }


def _call(sim: Carrier, request: Request) -> SimCall:
    try:
        call = sim.get_call(request.path["sid"])
    except KeyError:
        call = None
    if call is None or call.account_sid != request.path["account"]:
        raise ApiError(404, 20404, f"The requested resource {request.path['sid']} was not found")
    return call


def _matches(call: SimCall, filters: dict[str, str]) -> bool:
    values = {"To": call.to, "From": call.from_, "Status": call.status}
    for name, wanted in filters.items():
        if name in values:
            if values[name] != wanted:
                return False
            continue
        if call.start_time is None:  # a call not dialed yet has no start time: Twilio leaves it out
            return False
        bound, started = _moment(wanted), call.start_time.replace(microsecond=0)
        moment: date = started if isinstance(bound, datetime) else started.date()
        within = {"StartTime": moment == bound, "StartTime>": moment >= bound, "StartTime<": moment <= bound}
        if not within[name]:
            return False
    return True


def _moment(value: str) -> date:
    """A filter bound: a day (``2026-05-09``, Twilio's documented form) or an instant."""
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except ValueError as exc:
        raise ApiError(400, 20001, f"Invalid date filter: {value}") from exc


# -- messages ---------------------------------------------------------------------------------


def create_message(sim: Carrier, request: Request) -> Reply:
    to, from_, body = request.arg("To"), request.arg("From"), request.arg("Body")
    if not to:
        raise ApiError(400, 21604, "A 'To' phone number is required.")
    if not E164.fullmatch(to):
        raise ApiError(400, 21211, f"Invalid 'To' Phone Number: {to}")
    if not from_:
        raise ApiError(400, 21603, "A 'From' phone number is required.")
    if not body:
        raise ApiError(400, 21602, "Message body is required.")
    message = sim._new_message(request.path["account"], to, from_, body)
    return Reply(201, message_resource(message) | {"status": "queued"})


def fetch_message(sim: Carrier, request: Request) -> Reply:
    for message in sim.messages():
        if message.sid == request.path["sid"] and message.account_sid == request.path["account"]:
            return Reply(200, message_resource(message))
    raise ApiError(404, 20404, f"The requested resource {request.path['sid']} was not found")


def list_messages(sim: Carrier, request: Request) -> Reply:
    filters = {name: request.arg(name) for name in ("To", "From") if request.arg(name)}
    messages = [
        message_resource(m)
        for m in reversed(sim.messages())
        if m.account_sid == request.path["account"]
        and all({"To": m.to, "From": m.from_}[name] == value for name, value in filters.items())
    ]
    return Reply(200, _page(request, "messages", messages, filters))


def message_resource(message: SimMessage) -> dict[str, Any]:
    uri = f"/2010-04-01/Accounts/{message.account_sid}/Messages/{message.sid}"
    return {
        "sid": message.sid,
        "account_sid": message.account_sid,
        "to": message.to,
        "from": message.from_,
        "body": message.body,
        "status": message.status,
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "date_created": _rfc2822(message.date_created),
        "date_sent": _rfc2822(message.date_created),
        "date_updated": _rfc2822(message.date_created),
        "error_code": None,
        "error_message": None,
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": str(len(message.body) // 160 + 1),
        "price": None,
        "price_unit": "USD",
        "uri": f"{uri}.json",
        "subresource_uris": {"media": f"{uri}/Media.json"},
    }


# -- the simulator's own controls -------------------------------------------------------------


def sim_register_callee(sim: Carrier, request: Request) -> Reply:
    data = request.json()
    phone, name = str(data.get("phone", "")), data.get("name")
    if not E164.fullmatch(phone):
        raise ApiError(400, 400, f"phone must be E.164, not {phone!r}")
    try:
        if data.get("persona"):
            callee = sim.register_callee(phone, str(data["persona"]), name=name)
        else:
            lines = [str(line) for line in data.get("lines", [])]
            barge_in = {int(k): int(v) for k, v in (data.get("barge_in") or {}).items()}
            callee = sim.script_callee(
                phone, str(data.get("answer", "human")), lines, name=name, barge_in=barge_in
            )
    except ValueError as exc:
        raise ApiError(400, 400, str(exc)) from exc
    described = {"answer": callee.answer, "persona": callee.persona, "name": callee.name}
    return Reply(201, {"phone": phone, **described, "lines": list(callee.lines)})


def sim_list_calls(sim: Carrier, request: Request) -> Reply:
    to = request.arg("to") or None
    return Reply(200, {"calls": [call.to_json() for call in sim.calls(to)]})


def sim_get_call(sim: Carrier, request: Request) -> Reply:
    try:
        return Reply(200, sim.get_call(request.path["sid"]).to_json())
    except KeyError as exc:
        raise ApiError(404, 20404, f"no call {request.path['sid']}") from exc


def sim_list_messages(sim: Carrier, request: Request) -> Reply:
    return Reply(200, {"messages": [message.to_json() for message in sim.messages()]})


def sim_faults(sim: Carrier, request: Request) -> Reply:
    data = request.json()
    try:
        sim.inject_fault(str(data.get("kind", "")), int(data.get("count", 1)))
    except ValueError as exc:
        raise ApiError(400, 400, str(exc)) from exc
    return Reply(200, {"pending": sim.pending_faults()})


def sim_config(sim: Carrier, request: Request) -> Reply:
    data = request.json()
    for flag in ("duplicate_webhooks", "shuffle_status_callbacks"):
        if flag in data:
            setattr(sim, flag, bool(data[flag]))
    if "default_persona" in data:
        try:
            sim.set_default_persona(str(data["default_persona"]))
        except ValueError as exc:
            raise ApiError(400, 400, str(exc)) from exc
    if "unverified_caller_ids" in data:
        sim.unverified_caller_ids = {str(number) for number in data["unverified_caller_ids"]}
    return Reply(200, sim.config())


def sim_reset(sim: Carrier, request: Request) -> Reply:
    sim.reset()
    return Reply(200, sim.config())


def sim_idle(sim: Carrier, request: Request) -> Reply:
    return Reply(200, {"idle": sim.wait_idle(float(request.arg("timeout", "10")))})


ROUTES: list[tuple[str, re.Pattern[str], Route]] = [
    (method, re.compile(pattern), route)
    for method, pattern, route in (
        ("POST", rf"{API}/Calls\.json", create_call),
        ("GET", rf"{API}/Calls\.json", list_calls),
        ("GET", rf"{API}/Calls/(?P<sid>CA[0-9a-f]{{32}})\.json", fetch_call),
        ("POST", rf"{API}/Calls/(?P<sid>CA[0-9a-f]{{32}})\.json", update_call),
        ("POST", rf"{API}/Messages\.json", create_message),
        ("GET", rf"{API}/Messages\.json", list_messages),
        ("GET", rf"{API}/Messages/(?P<sid>SM[0-9a-f]{{32}})\.json", fetch_message),
        ("POST", r"/sim/callees", sim_register_callee),
        ("GET", r"/sim/calls", sim_list_calls),
        ("GET", r"/sim/calls/(?P<sid>CA[0-9a-f]{32})", sim_get_call),
        ("GET", r"/sim/messages", sim_list_messages),
        ("POST", r"/sim/faults", sim_faults),
        ("POST", r"/sim/config", sim_config),
        ("GET", r"/sim/config", lambda sim, request: Reply(200, sim.config())),
        ("POST", r"/sim/reset", sim_reset),
        ("GET", r"/sim/idle", sim_idle),
    )
]


class CarrierHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # hundreds of calls' requests can arrive at once


def make_handler(sim: Carrier) -> type[BaseHTTPRequestHandler]:
    class CarrierRequestHandler(BaseHTTPRequestHandler):
        server_version = "CarrierSimulator/1.0"

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read the records instead
            return

        def _dispatch(self, method: str) -> None:
            url = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            is_form = self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded")
            form = parse_qs(body.decode(), keep_blank_values=True) if is_form else {}
            try:
                reply = self._route(method, url.path, Request({}, parse_qs(url.query, True), form, body))
            except ApiError as exc:
                headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if exc.http_status == 401 else {}
                reply = Reply(exc.http_status, exc.payload(), headers=headers)
            except Exception as exc:  # a simulator bug answers 500 as Twilio would, and is logged
                logger.exception("carrier simulator failed on %s %s", method, url.path)
                reply = Reply(500, ApiError(500, 20500, f"simulator error: {exc!r}").payload())
            encoded = json.dumps(reply.payload).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(encoded)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(encoded)
            self.wfile.flush()
            if reply.after:
                reply.after()

        def _route(self, method: str, path: str, request: Request) -> Reply:
            allowed = False
            for route_method, pattern, route in ROUTES:
                match = pattern.fullmatch(path)
                if match is None:
                    continue
                allowed = True
                if route_method == method:
                    request.path = match.groupdict()
                    if "account" in request.path:
                        self._authenticate(request.path["account"])
                    return route(sim, request)
            if allowed:
                raise ApiError(405, 20004, f"Method {method} not allowed")
            raise ApiError(404, 20404, f"The requested resource {path} was not found")

        def _authenticate(self, account: str) -> None:
            header = self.headers.get("Authorization", "")
            try:
                user, _, password = (
                    base64.b64decode(header.removeprefix("Basic "), validate=True).decode().partition(":")
                )
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", ""
            valid_account = user == account and (sim.account_sid is None or account == sim.account_sid)
            if not (valid_account and hmac.compare_digest(password.encode(), sim.auth_token.encode())):
                raise ApiError(401, 20003, "Authenticate")

    return CarrierRequestHandler


def _page(request: Request, key: str, items: list[dict[str, Any]], filters: dict[str, str]) -> dict[str, Any]:
    size = request.integer("PageSize", 50, 1, 1000)
    page = request.integer("Page", 0, 0, 1_000_000)
    base = f"/2010-04-01/Accounts/{request.path['account']}/{key.title()}.json"

    def uri(number: int) -> str:
        return f"{base}?{urlencode({**filters, 'PageSize': size, 'Page': number})}"

    chunk = items[page * size : (page + 1) * size]
    return {
        key: chunk,
        "first_page_uri": uri(0),
        "next_page_uri": uri(page + 1) if (page + 1) * size < len(items) else None,
        "previous_page_uri": uri(page - 1) if page > 0 else None,
        "page": page,
        "page_size": size,
        "start": page * size,
        "end": page * size + max(len(chunk) - 1, 0),
        "uri": uri(page),
    }


def _formatted(number: str) -> str:
    if number.startswith("+1") and len(number) == 12:
        return f"({number[2:5]}) {number[5:8]}-{number[8:]}"
    return number


def _rfc2822(moment: datetime | None) -> str | None:
    return format_datetime(moment) if moment else None
