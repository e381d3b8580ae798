"""The writes of stored results, gathered to the end of a batch: one statement per table.

The sync stores many fetched results in one transaction (``sessions.apply_fetched_many``), and a
single complete/ stores a batch of one, through the same code. While a batch is open
(``gathered``), storing a result notes here what it writes: the session's changed fields, its
attempts, its subject verified. At the batch's end the sessions are written with one UPDATE per
set of fields (``_update_sessions``), the attempts with one ``bulk_create`` and the subjects verified
with one UPDATE. Outside a batch (a session ended without a result) each write happens at once.
"""

import contextlib
import contextvars
from collections import defaultdict

from django.db import connection
from django.utils import timezone

from ..models import LivenessAttempt, LivenessSession, Subject

_current = contextvars.ContextVar("liveness_result_batch", default=None)


class ResultBatch:
    def __init__(self):
        self._now = None
        self.sessions = {}  # pk -> (session, the names of its fields to write)
        self.attempts = []
        self.verified_subjects = set()
        self.failures = []  # (session, reason) in the order stored: for lockout.count_failures

    @property
    def now(self):
        """The time every result of the batch is stored at: taken when first asked, once the rows are
        locked (a batch that waited for a lock must not date its results before those stored
        meanwhile: the lockout counts failures up to it)."""
        if self._now is None:
            self._now = timezone.now()
        return self._now

    def flush(self):
        if self.verified_subjects:
            Subject.objects.filter(pk__in=sorted(self.verified_subjects)).update(verified_at=self.now, updated_at=self.now)
        by_fields = defaultdict(list)
        for session, fields in self.sessions.values():
            session.updated_at = self.now  # neither UPDATE below sets auto_now fields by itself
            by_fields[tuple(sorted(fields | {"updated_at"}))].append(session)
        for fields, sessions in by_fields.items():
            _update_sessions(sessions, fields)
        if self.attempts:
            # Stored once per session: its row is locked and final after this.
            LivenessAttempt.objects.bulk_create(self.attempts, ignore_conflicts=True)


def _update_sessions(sessions, fields):
    """Write ``fields`` (names) of ``sessions``, each with its own values, in one statement.

    Django's ``bulk_update`` writes ``SET field = CASE WHEN pk = ... THEN ... END`` and builds one
    ``When`` expression for each field of each row: for a batch of 1,000 results (18 fields) that
    was 4.2 of the sync's 6.7 s of database work, on the CPU (docs/performance.md). On PostgreSQL
    the rows' values go in one ``VALUES`` list joined on the primary key instead, each value prepared
    by its field as ``save()`` prepares it (the encrypted token encrypted, JSON dumped) and cast to
    its column's type; elsewhere, Django's ``bulk_update``."""
    if connection.vendor != "postgresql":
        LivenessSession.objects.bulk_update(sessions, fields)
        return
    meta = LivenessSession._meta
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    quote = connection.ops.quote_name
    row = "(" + ", ".join(f"%s::{column.db_type(connection)}" for column in columns) + ")"
    params = [column.get_db_prep_save(getattr(session, column.attname), connection) for session in sessions for column in columns]
    names = [quote(column.column) for column in columns]
    table = quote(meta.db_table)
    sql = (
        f"UPDATE {table} SET {', '.join(f'{name} = v.{name}' for name in names[1:])}"
        f" FROM (VALUES {', '.join([row] * len(sessions))}) AS v({', '.join(names)})"
        f" WHERE {table}.{names[0]} = v.{names[0]}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@contextlib.contextmanager
def gathered():
    """Within the block (inside the caller's transaction), results' writes are gathered and made at
    its end, when it ends without an error. A nested block joins the outer one."""
    batch = _current.get()
    if batch is not None:
        yield batch
        return
    batch = ResultBatch()
    token = _current.set(batch)
    try:
        yield batch
        batch.flush()
    finally:
        _current.reset(token)


def now():
    """The time a result stored now is stored at: the batch's, if one is open."""
    batch = _current.get()
    return batch.now if batch is not None else timezone.now()


def save(session, fields):
    """Write ``fields`` of ``session`` (at the batch's end, if one is open)."""
    batch = _current.get()
    if batch is None:
        session.save(update_fields=[*fields, "updated_at"])
        return
    entry = batch.sessions.setdefault(session.pk, (session, set()))
    entry[1].update(fields)


def add_attempts(attempts):
    batch = _current.get()
    if batch is None:
        LivenessAttempt.objects.bulk_create(attempts, ignore_conflicts=True)
    else:
        batch.attempts += attempts


def mark_verified(session, now):
    """``session`` verified its subject at ``now`` (the subject locked by the caller); the session's
    field is written with it (``save``)."""
    session.verified_at = now
    session.subject.verified_at = now
    batch = _current.get()
    if batch is None:
        Subject.objects.filter(pk=session.subject_id).update(verified_at=now, updated_at=now)
    else:
        batch.verified_subjects.add(session.subject_id)


def note_failure(session, reason):
    """A failed result whose subject's failures the batch counts (``lockout.count_failures``)."""
    _current.get().failures.append((session, reason))
