"""The OpenLineage outbox: events waiting to be forwarded live to a configured OpenLineage backend.

Data only; writing rows is `lamin_core/lineage/outbox.py`, sending them `lamin_core/lineage/forwarding.py`.
Rows are written in the same transaction as the records they describe, so an event is forwarded if and
only if what it describes was committed; they leave the table once the target has accepted them.
"""

from __future__ import annotations

from datetime import datetime
from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow

# 64-bit ids on PostgreSQL (the outbox's ids grow forever); SQLite's INTEGER PRIMARY KEY is 64-bit already
# and only autoincrements under that exact type
_ID = BigInteger().with_variant(Integer(), "sqlite")


class OpenLineageOutboxEvent(Base):
    """One OpenLineage 2-0-2 RunEvent waiting for delivery; `id` is the delivery order."""

    __tablename__ = "openlineage_outbox"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    run_key: Mapped[str] = mapped_column(String(300))  # "<reference type>:<reference>": what `status` groups by
    event_type: Mapped[str] = mapped_column(String(10))
    # the RunEvent's JSON text, exactly as it is POSTed: serialized once, when written, never parsed again
    event: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    # set when the target refused the event (a 4xx other than 408/429): kept for `status`, never resent
    refused_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class OpenLineageForwarding(Base):
    """The forwarder's state, one row (id 1): who sends now (a lease), what was delivered, dropped, and why not."""

    __tablename__ = "openlineage_forwarding"

    id: Mapped[int] = mapped_column(primary_key=True)
    sender: Mapped[str | None] = mapped_column(String(200), default=None)  # host:pid:thread holding the lease
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    target: Mapped[str | None] = mapped_column(String(2000), default=None)  # where the last delivery went
    delivered: Mapped[int] = mapped_column(BigInteger, default=0)
    last_delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    dropped: Mapped[int] = mapped_column(BigInteger, default=0)  # oldest events dropped by the backlog cap
    dropped_note: Mapped[str | None] = mapped_column(Text, default=None)  # what the last drop dropped
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    last_error_at: Mapped[datetime | None] = mapped_column(default=None)
