"""Concurrent API requests through the local gateway each get their own answer.

Every handler runs in the stack's one process, on the gateway's threads, and Powertools keeps the
event being resolved in module- and class-level state (``BaseRouter.current_event``, the resolver's
``context`` with the route arguments). On Lambda one invocation runs per execution environment at
a time; the local stack must model that, or two requests resolved at once read each other's body
(seen in a bench: one callee dialed 8 times)."""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from local.api_client import ApiClient

THREADS = 48
ROUNDS = 3


def _phone(index: int) -> str:
    return f"+1312{700 + index // 10000:03d}{index % 10000:04d}"


def test_concurrent_requests_with_distinct_bodies_each_get_their_own_answer(stack):
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # threads interleave often, as they would on a busier machine
    try:
        _run(stack)
    finally:
        sys.setswitchinterval(switch)


def _run(stack: Any) -> None:
    local = threading.local()

    def client() -> ApiClient:
        """One client per thread, as separate scripts calling the API at once."""
        if not hasattr(local, "client"):
            local.client = ApiClient(stack.url, stack.api_token, timeout=60, pool_size=THREADS)
        return local.client  # type: ignore[no-any-return]

    def create(index: int) -> tuple[int, dict[str, Any]]:
        body = {"name": f"Racer {index:04d}", "phone": _phone(index), "consent": True, "tags": [f"t{index}"]}
        response = client().post("/contacts", json=body)
        return index, {"status": response.status_code, **(response.json() if response.content else {})}

    def read(item: tuple[int, str]) -> tuple[int, dict[str, Any]]:
        index, contact_id = item
        response = client().get(f"/contacts/{contact_id}")
        return index, {"status": response.status_code, **response.json()}

    def twilio_noise(index: int) -> int:
        # the voice webhook's resolver runs at the same time (refused: unsigned), in another function
        response = client().post(
            f"/twilio/status/noise-{index}", data={"CallSid": f"CA{index:032d}", "CallStatus": "completed"}
        )
        return response.status_code

    created: dict[int, str] = {}
    mismatched: list[str] = []
    with ThreadPoolExecutor(THREADS) as pool:
        for round_ in range(ROUNDS):
            indexes = range(round_ * THREADS * 2, (round_ + 1) * THREADS * 2)
            noise = [pool.submit(twilio_noise, i) for i in indexes[::4]]
            for index, answer in pool.map(create, indexes):
                if answer["status"] != 201:
                    mismatched.append(f"create {index}: {answer}")
                    continue
                if answer.get("name") != f"Racer {index:04d}" or answer.get("phone") != _phone(index):
                    mismatched.append(f"create {index}: got {answer.get('name')} {answer.get('phone')}")
                created[index] = str(answer["contact_id"])
            items = [(i, created[i]) for i in indexes if i in created]
            for index, answer in pool.map(read, items):
                if answer["status"] != 200 or answer.get("contact_id") != created[index]:
                    mismatched.append(f"read {index}: {answer.get('status')} {answer.get('contact_id')}")
                elif answer.get("phone") != _phone(index):
                    mismatched.append(f"read {index}: phone {answer.get('phone')}")
            mismatched += [f"twilio noise: {f.result()}" for f in noise if f.result() not in (401, 403)]
    assert not mismatched, f"{len(mismatched)} answers with another request's data: {mismatched[:5]}"
    # one contact per distinct body: none created twice from another request's body
    assert len(set(created.values())) == len(created) == ROUNDS * THREADS * 2
