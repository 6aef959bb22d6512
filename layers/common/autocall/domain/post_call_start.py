"""Hands a finished call to the post-call chain (one Step Functions execution per attempt)."""

from __future__ import annotations

from autocall.config import get_settings
from autocall.observability import logger
from autocall.stores import calls as repo


def start_after_call(call_id: str) -> bool:
    if not get_settings().post_call_state_machine_arn:
        logger.info("no post-call state machine configured", extra={"call_id": call_id})
        return False
    call = repo.get_call(call_id)
    if call is None:
        return False
    from autocall.adapters.workflows import start_post_call

    return start_post_call(call_id, int(call.attempts or 1))
