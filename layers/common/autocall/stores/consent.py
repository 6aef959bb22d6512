"""Data access for the consent ledger (ConsentTable): append a record, read a number's records."""

from __future__ import annotations

import time
import uuid

from autocall.stores.tables import ConsentRow


def append(row: ConsentRow) -> ConsentRow:
    """Write one record under a fresh sort key; a record is never overwritten. Records of the same
    moment (a pinned or fast clock) keep the order they were written in: wall nanoseconds break the tie."""
    row.record_id = f"{row.at.isoformat()}#{time.time_ns():020d}#{uuid.uuid4().hex[:8]}"
    row.save(condition=ConsentRow.record_id.does_not_exist())
    return row


def records_for(phone: str, limit: int = 100) -> list[ConsentRow]:
    """The number's records, newest first."""
    return list(ConsentRow.query(phone, scan_index_forward=False, limit=limit, consistent_read=True))
