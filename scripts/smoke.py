#!/usr/bin/env python3
"""Smoke test of a deployed autocall stack: one real call, end to end.

    make smoke SMOKE_ARGS="--phone +14155550123"
    python scripts/smoke.py --phone +14155550123 [--stack-name autocall] [--region us-east-1]
    python scripts/smoke.py --phone +14155550123 --api-url https://.../prod --token TOKEN

Steps, in order; the first that fails ends the run with exit code 1 and its name:

  outputs    read the CloudFormation stack's outputs ApiUrl and SecretsArn (skipped with --api-url)
  token      read api_token from the secret SecretsArn (skipped with --token)
  auth       a request without the token gets 401, one with a wrong token 401 or 403, one with the
             token 200 (GET /openapi.json)
  contact    POST /contacts for --phone (E.164), consent given
  trigger    POST /calls/api/calls/trigger_autonomous_call/ (due now)
  call       GET /calls/{call_id} until the call reaches a terminal status; anything but
             "completed" fails (busy, no_answer, failed, canceled: the reasons are printed), and so
             does a call the dialer put off (outside the callee's calling window, pacing ...)
  post-call  GET /calls/{call_id} until the post-call chain has written this attempt's result (or a
             failure); then the transcript, the result and the actions taken are printed

The phone rings for real: pass a number you can answer, during its calling window (09:00-20:00 in
the number's time zone unless --time-zone says otherwise). Needs only requests, and boto3 when the
stack's outputs or the secret are read.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import tomllib
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
SAMCONFIG = ROOT / "samconfig.toml"
PURPOSES = ("sales_outreach", "follow_up", "customer_support", "appointment_booking", "renewal_reminder")
# autocall.models.enums.CallStatus: the terminal ones, and the one a call waits in before its dial
TERMINAL = {"completed", "busy", "no_answer", "failed", "canceled"}
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class StepFailed(Exception):
    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step
        self.message = message


def say(text: str = "") -> None:
    print(text, flush=True)


# --- where the API is ----------------------------------------------------------------------------------
def samconfig_defaults() -> dict[str, str]:
    """stack_name and region from samconfig.toml (what `sam deploy` used), when present."""
    try:
        config = tomllib.loads(SAMCONFIG.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    default = config.get("default", {})
    found: dict[str, str] = {}
    for section in ("global", "deploy"):
        params = default.get(section, {}).get("parameters", {})
        for key in ("stack_name", "region"):
            if params.get(key):
                found[key] = str(params[key])
    return found


def boto3_session(args: argparse.Namespace) -> Any:
    import boto3

    return boto3.session.Session(profile_name=args.profile, region_name=args.region)


def stack_outputs(args: argparse.Namespace) -> dict[str, str]:
    try:
        cloudformation = boto3_session(args).client("cloudformation")
        stacks = cloudformation.describe_stacks(StackName=args.stack_name)["Stacks"]
    except Exception as exc:  # botocore's errors: no credentials, no such stack, no region ...
        raise StepFailed("outputs", f"cannot read stack {args.stack_name!r}: {exc}") from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = [key for key in ("ApiUrl", "SecretsArn") if not outputs.get(key)]
    if missing:
        raise StepFailed("outputs", f"stack {args.stack_name!r} has no output {', '.join(missing)}")
    return outputs


def api_token(args: argparse.Namespace, secret_arn: str) -> str:
    try:
        raw = boto3_session(args).client("secretsmanager").get_secret_value(SecretId=secret_arn)
        token = json.loads(raw["SecretString"]).get("api_token")
    except Exception as exc:
        raise StepFailed("token", f"cannot read api_token from {secret_arn}: {exc}") from exc
    if not token:
        raise StepFailed("token", f"the secret {secret_arn} has no api_token")
    return str(token)


# --- the API ------------------------------------------------------------------------------------------
class Api:
    def __init__(self, base: str, token: str, timeout: float) -> None:
        self.base = base.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.session = requests.Session()

    def request(
        self, step: str, method: str, path: str, token: str | None = "", **kwargs: Any
    ) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        token = self.token if token == "" else token
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            return self.session.request(
                method, self.base + path, headers=headers, timeout=self.timeout, **kwargs
            )
        except requests.RequestException as exc:
            raise StepFailed(step, f"{method} {self.base + path}: {exc}") from exc

    def json(self, step: str, method: str, path: str, expect: int, **kwargs: Any) -> dict[str, Any]:
        response = self.request(step, method, path, **kwargs)
        if response.status_code != expect:
            raise StepFailed(
                step, f"{method} {path} answered {response.status_code}, not {expect}: {response.text[:500]}"
            )
        try:
            return dict(response.json())
        except ValueError as exc:
            raise StepFailed(step, f"{method} {path} did not answer JSON: {response.text[:200]}") from exc


def check_auth(api: Api) -> None:
    path = "/openapi.json"
    without = api.request("auth", "GET", path, token=None)
    if without.status_code != 401:
        raise StepFailed("auth", f"GET {path} without a token answered {without.status_code}, not 401")
    wrong = api.request("auth", "GET", path, token="smoke-" + uuid.uuid4().hex)
    if wrong.status_code not in (401, 403):
        raise StepFailed("auth", f"GET {path} with a wrong token answered {wrong.status_code}, not 401/403")
    right = api.request("auth", "GET", path)
    if right.status_code != 200:
        raise StepFailed(
            "auth", f"GET {path} with the API token answered {right.status_code}, not 200: {right.text[:300]}"
        )
    say(f"auth       ok: no token 401, wrong token {wrong.status_code}, the token 200")


def follow(
    step: str,
    api: Api,
    call_id: str,
    done: Callable[[dict[str, Any]], bool],
    timeout: float,
    poll: float,
    last_status: str | None = None,
) -> dict[str, Any]:
    """GET /calls/{call_id} every ``poll`` s until ``done``; prints each new status."""
    deadline = time.monotonic() + timeout
    while True:
        view = api.json(step, "GET", f"/calls/{call_id}", 200)
        if view.get("status") != last_status:
            last_status = view.get("status")
            say(f"           status {last_status}")
        if done(view):
            return view
        if time.monotonic() >= deadline:
            raise StepFailed(step, f"call {call_id} still {view.get('status')!r} after {timeout:.0f} s")
        time.sleep(poll)


def _moment(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def reasons_of(view: dict[str, Any]) -> str:
    return "; ".join(
        str(r.get("reason", r)) if isinstance(r, dict) else str(r) for r in view.get("reasons") or []
    )


def call_over(first_due: Any, limit_s: float) -> Callable[[dict[str, Any]], bool]:
    """The call reached a terminal status; fails at once when the dialer put the first dial off
    past what the run waits for (outside the calling window, the contact on another call ...)."""

    def over(view: dict[str, Any]) -> bool:
        if view.get("status") == "scheduled" and not int(view.get("attempts") or 0) and view.get("reasons"):
            due, first = _moment(view.get("scheduled_time")), _moment(first_due)
            if due and first and (due - first).total_seconds() > limit_s:
                raise StepFailed(
                    "call", f"the dialer put the call off to {view['scheduled_time']}: {reasons_of(view)}"
                )
        return view.get("status") in TERMINAL

    return over


def post_call_done(view: dict[str, Any]) -> bool:
    """This attempt's post-call chain wrote its result, or recorded a failure."""
    attempt = int(view.get("attempts") or 0)
    result = view.get("result") or {}
    failed = any(f.get("attempt") == attempt for f in view.get("failures") or [])
    return result.get("attempt") == attempt or failed


def print_transcript(view: dict[str, Any]) -> None:
    say("transcript:")
    turns = view.get("turns") or []
    if not turns:
        say("  (no turns)")
    for turn in turns:
        if turn.get("utterance"):
            say(f"  callee: {turn['utterance']}")
        if turn.get("reply"):
            say(f"  agent:  {turn['reply']}")


def print_result(view: dict[str, Any]) -> None:
    result = view.get("result") or {}
    say("post-call result:")
    say(f"  outcome: {view.get('outcome')}")
    for key in ("summary", "next_action", "interest_level", "probability", "estimated_value", "duration"):
        if result.get(key) not in (None, ""):
            say(f"  {key}: {result[key]}")
    analysis = view.get("analysis") or {}
    for key in ("pain_points", "objections", "decision_maker", "budget", "sentiment_trend"):
        if analysis.get(key) not in (None, "", []):
            value = analysis[key]
            say(f"  {key}: {', '.join(map(str, value)) if isinstance(value, list) else value}")
    say(f"actions taken: {', '.join(view.get('actions_taken') or []) or '(none)'}")


def run(args: argparse.Namespace) -> None:
    base, token = args.api_url, args.token
    if not base:
        outputs = stack_outputs(args)
        base = outputs["ApiUrl"]
        say(f"outputs    ok: ApiUrl {base}")
        secret_arn = outputs["SecretsArn"]
    else:
        secret_arn = None
    if not token:
        if secret_arn is None:
            raise StepFailed(
                "token", "--api-url given without --token: pass --token, or --stack-name instead"
            )
        token = api_token(args, secret_arn)
        say("token      ok: api_token read from the secret")
    api = Api(base, token, timeout=args.request_timeout)
    say(f"API        {api.base}")

    check_auth(api)

    run_id = uuid.uuid4().hex[:12]
    contact_fields: dict[str, Any] = {
        "name": args.name,
        "phone": args.phone,
        "consent": True,
        "consent_text": "autocall smoke test run by the operator",
        "tags": ["smoke"],
    }
    if args.time_zone:
        contact_fields["time_zone"] = args.time_zone
    contact = api.json(
        "contact",
        "POST",
        "/contacts",
        201,
        json=contact_fields,
        headers={"Idempotency-Key": f"smoke-c-{run_id}"},
    )
    say(f"contact    ok: {contact['contact_id']} {contact.get('phone')} ({contact.get('time_zone')})")

    placed = api.json(
        "trigger",
        "POST",
        "/calls/api/calls/trigger_autonomous_call/",
        202,
        json={
            "contact_id": contact["contact_id"],
            "call_purpose": args.purpose,
            "context": {"smoke_test": True, **({"product_interest": args.product} if args.product else {})},
        },
        headers={"Idempotency-Key": f"smoke-t-{run_id}"},
    )
    call_id = str(placed["call_id"])
    say(f"trigger    ok: call {call_id} {placed.get('status')}, due {placed.get('scheduled_time')}")

    say("call       following GET /calls/" + call_id)
    over = call_over(placed.get("scheduled_time"), args.call_timeout)
    view = follow("call", api, call_id, over, args.call_timeout, args.poll)
    if view["status"] != "completed":
        reasons = reasons_of(view)
        print_transcript(view)
        raise StepFailed("call", f"the call ended {view['status']}" + (f" ({reasons})" if reasons else ""))
    say(f"call       ok: completed, answered by {view.get('answered_by')}, {view.get('duration')}")

    say("post-call  waiting for the chain's result")
    view = follow(
        "post-call", api, call_id, post_call_done, args.post_call_timeout, args.poll, view["status"]
    )
    print_transcript(view)
    failures = [f for f in view.get("failures") or [] if f.get("attempt") == int(view.get("attempts") or 0)]
    if failures:
        print_result(view)
        detail = "; ".join(
            f"{f.get('step')}: {f.get('error')} {f.get('cause') or ''}".strip() for f in failures
        )
        raise StepFailed("post-call", f"the post-call chain failed: {detail}")
    print_result(view)
    say(f"post-call  ok: the chain finished for attempt {view['result'].get('attempt')}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = samconfig_defaults()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--phone", required=True, help="the number to call, E.164 (+14155550123)")
    parser.add_argument("--stack-name", default=defaults.get("stack_name", "autocall"))
    parser.add_argument("--region", default=defaults.get("region"), help="AWS region of the stack")
    parser.add_argument("--profile", default=None, help="AWS profile for the stack's outputs and secret")
    parser.add_argument(
        "--api-url", default=None, help="the API's base URL (stage included); skips the outputs"
    )
    parser.add_argument("--token", default=None, help="the API token; skips reading the secret")
    parser.add_argument("--name", default="Smoke Test", help="the contact's name")
    parser.add_argument("--time-zone", default=None, help="the callee's IANA zone (default: from the number)")
    parser.add_argument("--purpose", default="sales_outreach", choices=PURPOSES)
    parser.add_argument("--product", default=None, help="the call's context.product_interest (optional)")
    parser.add_argument(
        "--call-timeout", type=float, default=600.0, help="seconds to reach a terminal status"
    )
    parser.add_argument(
        "--post-call-timeout", type=float, default=300.0, help="seconds for the post-call result"
    )
    parser.add_argument("--poll", type=float, default=2.0, help="seconds between two GET /calls/{id}")
    parser.add_argument("--request-timeout", type=float, default=30.0, help="seconds per HTTP request")
    args = parser.parse_args(argv)
    if not E164.match(args.phone):
        parser.error(f"--phone must be E.164 (+ and 7 to 15 digits), not {args.phone!r}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except StepFailed as failed:
        say(f"SMOKE FAILED at step {failed.step}: {failed.message}")
        return 1
    say("SMOKE OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
