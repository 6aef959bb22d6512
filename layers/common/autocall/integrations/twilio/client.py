"""Twilio REST behind a small typed interface: place, inspect and end calls, send SMS.

Errors come out as typed exceptions that tell the caller what it may do next: ``retryable`` (the
request was not processed, send it again) or ``maybe_placed`` (a create failed in a way that may
still have placed the call or sent the message: reconcile with ``find_calls_to``, never redial).

``twilio.rest`` costs ~0.8 s to import, so it is imported by the factory, not by this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from autocall.config import get_settings
from autocall.integrations.twilio.status import STATUS_EVENTS, call_status
from autocall.models.enums import CallStatus
from autocall.observability import scrub

if TYPE_CHECKING:
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

HTTP_TIMEOUT_S = 5.0
RING_TIMEOUT_S = 25

INVALID_NUMBER_CODES = frozenset({21211, 21214, 21215, 21216, 21217, 13224, 21401, 21614})
CALLER_ID_CODES = frozenset({21210, 21212, 21606, 21660})


class TelephonyError(Exception):
    """A Twilio request failed. ``code`` is Twilio's error code when it gave one."""

    retryable: bool = False
    maybe_placed: bool = False

    def __init__(self, message: str, code: int | None = None, http_status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status


class InvalidNumber(TelephonyError):
    """The destination cannot be dialed (malformed, unreachable, not permitted by geo permissions)."""


class CallerIdNotVerified(TelephonyError):
    """The From number is not one the account owns or has verified."""


class CallNotFound(TelephonyError):
    """No call (or message) with that SID on this account."""


class RateLimited(TelephonyError):
    """Too many requests: Twilio did not process this one, so it is safe to send again."""

    retryable = True


class TelephonyUnavailable(TelephonyError):
    """5xx, timeout or broken connection. After a create, the call may exist: reconcile, never redial."""

    def __init__(
        self, message: str, code: int | None = None, http_status: int | None = None, *, placing: bool
    ) -> None:
        super().__init__(message, code, http_status)
        self.maybe_placed = placing
        self.retryable = not placing  # a read or a hangup can simply be repeated


@dataclass(frozen=True)
class CallInfo:
    sid: str
    to: str
    from_: str
    status: str  # Twilio's word (see ``status.CALL_STATUS``)
    start_time: datetime | None
    duration: int | None  # seconds, once the call has ended
    date_created: datetime | None = None

    @property
    def call_status(self) -> CallStatus | None:
        """The status in our terms."""
        return call_status(self.status)


def get_twilio_auth_token() -> str:
    """The account auth token, from Secrets Manager (env var when no secret is configured)."""
    from autocall.secrets import get_secret

    return get_secret("twilio_auth_token")


class Telephony:
    """Calls and messages on one Twilio account."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create_call(
        self, to: str, from_: str, answer_url: str, status_callback_url: str, amd_callback_url: str
    ) -> str:
        """Place an outbound call with async answering-machine detection; returns the CallSid."""
        call = self._do(
            True,
            self._client.calls.create,
            to=to,
            from_=from_,
            url=answer_url,
            method="POST",
            status_callback=status_callback_url,
            status_callback_event=STATUS_EVENTS,
            status_callback_method="POST",
            machine_detection="DetectMessageEnd",
            async_amd="true",
            async_amd_status_callback=amd_callback_url,
            async_amd_status_callback_method="POST",
            timeout=RING_TIMEOUT_S,
        )
        return str(call.sid)

    def fetch_call(self, sid: str) -> CallInfo:
        return _call_info(self._do(False, self._client.calls(sid).fetch))

    def find_calls_to(self, number: str, since: datetime) -> list[CallInfo]:
        """Calls to ``number`` placed at or after ``since``: the reconciliation of a dial attempt.

        Twilio filters ``StartTime>`` by day and gives queued calls no start time yet, so this asks
        for the day's calls and the queued ones, then compares to the second (Twilio's precision).
        """
        since = since.astimezone(UTC).replace(microsecond=0)
        started = self._do(False, self._client.calls.list, to=number, start_time_after=f"{since:%Y-%m-%d}")
        queued = self._do(False, self._client.calls.list, to=number, status="queued")
        found: dict[str, CallInfo] = {}
        for call in (*started, *queued):
            info = _call_info(call)
            moment = info.start_time or info.date_created
            if moment is not None and moment >= since:
                found[info.sid] = info
        return sorted(found.values(), key=lambda c: c.start_time or c.date_created or since)

    def hangup(self, sid: str) -> None:
        """End the call: hang up if answered, cancel if still queued or ringing."""
        self._do(False, self._client.calls(sid).update, status="completed")

    def play_twiml(self, sid: str, twiml: str) -> None:
        """Replace what a live call is doing with ``twiml`` (how async AMD switches to the voicemail)."""
        self._do(False, self._client.calls(sid).update, twiml=twiml)

    def send_sms(self, to: str, from_: str, body: str) -> str:
        message = self._do(True, self._client.messages.create, to=to, from_=from_, body=body)
        return str(message.sid)

    @staticmethod
    def _do(placing: bool, request: Any, **params: Any) -> Any:
        from requests import RequestException
        from twilio.base.exceptions import TwilioException, TwilioRestException

        # Twilio's messages and the URLs in connection errors name the numbers ("Invalid 'To' Phone
        # Number: +1415…", "Calls.json?To=%2B1415…"): scrubbed, and the original is not chained, so
        # no traceback in the function's log (Lambda writes unhandled errors there) carries them.
        try:
            return request(**params)
        except TwilioRestException as exc:
            raise _map_rest_error(exc.status, exc.code, scrub(str(exc.msg)), placing=placing) from None
        except RequestException as exc:  # timeouts and connection errors: the request may have landed
            raise TelephonyUnavailable(scrub(f"Twilio unreachable: {exc}"), placing=placing) from None
        except TwilioException as exc:
            raise TelephonyUnavailable(scrub(f"Twilio client error: {exc}"), placing=placing) from None


def _map_rest_error(status: int, code: int | None, message: str, *, placing: bool) -> TelephonyError:
    if status == 429 or code == 20429:
        return RateLimited(message, code, status)
    if status >= 500:
        return TelephonyUnavailable(message, code, status, placing=placing)
    if code in INVALID_NUMBER_CODES:
        return InvalidNumber(message, code, status)
    if code in CALLER_ID_CODES:
        return CallerIdNotVerified(message, code, status)
    if status == 404 or code == 20404:
        return CallNotFound(message, code, status)
    return TelephonyError(message, code, status)


def _call_info(call: Any) -> CallInfo:
    return CallInfo(
        sid=str(call.sid),
        to=str(call.to),
        from_=str(call._from),
        status=str(call.status),
        start_time=call.start_time if isinstance(call.start_time, datetime) else None,
        duration=int(call.duration) if call.duration not in (None, "") else None,
        date_created=call.date_created if isinstance(call.date_created, datetime) else None,
    )


def _rebasing_http_client(base_url: str) -> TwilioHttpClient:
    """An HTTP client that sends every ``*.twilio.com`` request to ``base_url`` (the carrier simulator)."""
    from requests.adapters import HTTPAdapter
    from twilio.http.http_client import TwilioHttpClient

    base = urlsplit(base_url.rstrip("/"))

    class RebasingHttpClient(TwilioHttpClient):
        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            target = urlsplit(url)
            if target.hostname and target.hostname.endswith("twilio.com"):
                url = urlunsplit((base.scheme, base.netloc, base.path + target.path, target.query, ""))
            return super().request(method, url, *args, **kwargs)

    client = RebasingHttpClient(timeout=HTTP_TIMEOUT_S)
    if client.session is not None:
        client.session.mount("http://", HTTPAdapter(pool_maxsize=32))
    return client


def get_telephony() -> Telephony:
    """The Twilio client, one per account, auth token and API base URL: rebuilt when the token
    changes (it is read through the secrets cache, five minutes, so a rotated token is used without
    a redeploy) or where tests and the local stack point the account elsewhere."""
    settings = get_settings()
    return _telephony(
        settings.required("twilio_account_sid"), get_twilio_auth_token(), settings.twilio_api_base_url
    )


@lru_cache(maxsize=4)
def _telephony(sid: str, auth_token: str, base_url: str | None) -> Telephony:
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    http_client = _rebasing_http_client(base_url) if base_url else TwilioHttpClient(timeout=HTTP_TIMEOUT_S)
    return Telephony(Client(sid, auth_token, account_sid=sid, http_client=http_client))
