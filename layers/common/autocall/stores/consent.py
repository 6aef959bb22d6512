"""The consent ledger (ConsentTable): append a record, read a number's records."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

from autocall.models.records import ConsentRecord
from autocall.stores._records import record_of, row_of
from autocall.stores.tables import ConsentRow


def append(record: ConsentRecord) -> ConsentRecord:
    """Write one record under a fresh sort key; a record is never overwritten. Records of the same
    moment (a pinned or fast clock) keep the order they were written in: wall nanoseconds break the tie."""
    written = replace(
        record, record_id=f"{record.at.isoformat()}#{time.time_ns():020d}#{uuid.uuid4().hex[:8]}"
    )
    row_of(written, ConsentRow).save(condition=ConsentRow.record_id.does_not_exist())
    return written


def records_for(phone: str, limit: int = 100) -> list[ConsentRecord]:
    """The number's records, newest first."""
    rows = ConsentRow.query(phone, scan_index_forward=False, limit=limit, consistent_read=True)
    return [record_of(row, ConsentRecord) for row in rows]
