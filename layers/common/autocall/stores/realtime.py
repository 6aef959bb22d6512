"""The realtime connections table: which call a ConversationRelay WebSocket connection carries.

API Gateway hands only ``$connect`` the URL Twilio opened (with the call's id); every later frame
of the connection carries just its connection id, so ``$connect`` binds it here and the frames look
the call up. Rows expire a day after the connection opened (TTL)."""

from __future__ import annotations

from autocall.clock import now
from autocall.stores.tables import RealtimeConnectionRow
from pynamodb.exceptions import UpdateError

KEEP_S = 24 * 3600


def bind(connection_id: str, call_id: str) -> None:
    RealtimeConnectionRow(
        connection_id=connection_id, call_id=call_id, expires_at=int(now().timestamp()) + KEEP_S
    ).save()


def call_of(connection_id: str) -> str | None:
    """The call the connection carries (None: never bound, or expired)."""
    try:
        return str(RealtimeConnectionRow.get(connection_id, consistent_read=True).call_id)
    except RealtimeConnectionRow.DoesNotExist:
        return None


def mark_gone(connection_id: str) -> bool:
    """The socket closed: recorded on the connection (False when it was never bound)."""
    try:
        RealtimeConnectionRow(connection_id=connection_id).update(
            actions=[RealtimeConnectionRow.gone.set(True)],
            condition=RealtimeConnectionRow.connection_id.exists(),
        )
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True
