"""The local stack restarted mid-campaign: the gateway, the schedule pump and every function go
down while calls are on the line and others are due, and come back cold over the same moto server.
Twilio (the carrier) carries on meanwhile. No one is dialed twice, no call is lost: each one ends in
a terminal status with a reason, and each attempt is exactly one Twilio call."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from autocall.clock import CLOCK
from autocall.domain.campaigns import campaign_call_id

from local.demo import finished
from local.gateway import Gateway
from local.lambdas import FunctionRegistry, route_moto_lambda
from local.pump import SchedulePump
from local.stack import LocalStack
from tests.support.reliability import COUNTS
from tests.support.stack import Client, rest_clock

START = datetime(2026, 12, 16, 17, 0, tzinfo=UTC)  # a Wednesday, noon in New York
PERSONAS = ["interested_buyer", "busy_call_me_back", "not_interested", "angry", "voicemail", "no_answer"]
TERMINAL = {"completed", "busy", "no_answer", "failed", "canceled"}
LIVE = {"dialing", "queued", "ringing", "in_progress"}
SPEED = 30.0  # virtual seconds per wall second: the campaign's one-minute stagger passes in 2 s
_numbers = itertools.count(5000)


def crash(stack: LocalStack, on_the_line: int) -> None:
    """Once ``on_the_line`` Twilio webhooks are being handled, every function dies: those requests
    get API Gateway's 502, and the API, the pump and the functions are gone until ``restart``."""
    handle, inside, crashed = stack.gateway.handle, threading.Semaphore(0), threading.Event()
    died = (502, {"Content-Type": "application/json"}, b'{"error": "internal_error", "message": "crashed"}')

    def dying(method: str, path: str, *args: Any) -> tuple[int, dict[str, str], bytes]:
        if not path.startswith(f"/{stack.template.stage}/twilio/"):
            return handle(method, path, *args)
        inside.release()
        crashed.wait(30)
        return died

    stack.gateway.handle = dying  # type: ignore[method-assign]
    for _ in range(on_the_line):
        assert inside.acquire(timeout=30), "no call reached the API"
    stack.pump.stop()
    stack.gateway.stop()
    crashed.set()
    stack.registry.shutdown()


def restart(stack: LocalStack) -> None:
    """Everything comes back cold over the same moto server, on the same port."""
    stack.registry = FunctionRegistry(stack.template, env_overrides=stack.env_overrides)  # imported afresh
    route_moto_lambda(stack.registry)
    stack.gateway = Gateway(stack.template, stack.registry, port=stack.port)
    stack.gateway.start()
    stack.pump = SchedulePump(stack.registry.invoke, skip_idle=stack.skip_idle, idle=stack.idle)
    stack.pump.start()


def test_a_restart_mid_campaign_neither_redials_nor_loses_a_call(api: Client, stack: LocalStack) -> None:
    CLOCK.freeze(START)
    CLOCK.set_speed(SPEED)
    try:
        contacts = []
        for persona in PERSONAS * 3:
            phone = f"+1917555{next(_numbers):04d}"
            contacts.append(api.contact("Sam Restart", phone, time_zone="America/New_York", tags=["restart"]))
            stack.carrier.register_callee(phone, persona, name="Sam")
        campaign = api.post(
            "/campaigns", json={"name": "restart", "purpose": "sales_outreach", "tag": "restart"}
        ).json()
        started = api.post(
            "/calls/api/calls/trigger_campaign_calls/",
            json={
                "campaign_id": campaign["campaign_id"],
                "call_purpose": "sales_outreach",
                "stagger_minutes": 0.25,
            },
        )
        assert started.status_code == 202, started.text
        ids = [campaign_call_id(campaign["campaign_id"], c["contact_id"]) for c in contacts]
        views = lambda: [api.get(f"/calls/{i}").json() for i in ids]  # noqa: E731
        api.wait_for(lambda: sum(v["status"] in TERMINAL for v in views()) >= 3, timeout=60)
        crash(stack, on_the_line=2)
        time.sleep(1.0)  # Twilio's calls in flight meet a dead API; their last callbacks are lost
        restart(stack)
        api.wait_for(
            lambda: all(finished(v, post_call=True) or v["status"] in LIVE for v in views()), timeout=90
        )
        lost = [v["call_id"] for v in views() if v["status"] in LIVE]
        CLOCK.set_speed(1.0)
        CLOCK.advance(timedelta(minutes=61))  # the watchdogs of the calls placed are due
        api.wait_for(lambda: all(finished(v, post_call=True) for v in views()), timeout=60)
        after = views()
    finally:
        rest_clock()
    assert lost, "the crash left calls whose last status callback never arrived"
    for view in after:
        placed = stack.carrier.calls(to=api.get(f"/contacts/{view['contact_id']}").json()["phone"])
        assert len(placed) == view["attempts"] == 1, (
            view["call_id"],
            view["attempts"],
            [c.sid for c in placed],
        )
        assert view["outcome"], view
        if view["call_id"] in lost:
            assert "status_callback_lost" in [r["reason"] for r in view["reasons"]], view
    COUNTS[
        f"campaign calls across a crash and restart ({len(lost)} lost callbacks recovered, 0 redialed)"
    ] += len(after)
