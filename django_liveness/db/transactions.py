"""Transactions that hold on every database the app supports, SQLite's defaults included.

``atomic_with_retry`` runs a function in its own transaction and runs it again when the database
refused it for a reason that a second try cures: PostgreSQL's serialization failure or deadlock,
SQLite's "database is locked". Between tries it waits a little, with jitter, so that the
transactions that collided do not collide again.

SQLite allows one writer at a time. A transaction that starts by reading and writes later
(Django's default ``BEGIN``, "deferred") cannot wait for the writer: SQLite fails it at once with
"database is locked". So on SQLite a transaction of this module takes the write lock first, as
``BEGIN IMMEDIATE`` does, and waits its turn for up to the database's ``timeout`` (5 s unless the
host set one). A host on Django >= 5.1 with ``"transaction_mode": "IMMEDIATE"`` already does it
for every transaction (docs/deployment.md).
"""

import contextlib
import functools
import logging
import random
import sqlite3
import time

from django.db import DatabaseError, connection, transaction

logger = logging.getLogger("django_liveness")

# PostgreSQL's serialization_failure and deadlock_detected: the transaction may simply run again.
RETRYABLE_SQLSTATES = ("40001", "40P01")
ATTEMPTS_ON_CONFLICT = 5
# The wait before the 2nd, 3rd ... try: this many seconds, doubled each time, +-50 % jitter.
FIRST_WAIT_SECONDS = 0.05


def atomic_with_retry(function):
    """Run ``function`` in its own transaction; when the database refuses it for a deadlock, a
    serialization failure or a lock, run it again (``ATTEMPTS_ON_CONFLICT`` tries in all).

    Inside a caller's transaction it just runs: only the outermost transaction can be retried.
    """

    @functools.wraps(function)
    def run(*args, **kwargs):
        if connection.in_atomic_block:
            with transaction.atomic():
                return function(*args, **kwargs)
        for attempt in range(1, ATTEMPTS_ON_CONFLICT + 1):
            try:
                with atomic_writing():
                    return function(*args, **kwargs)
            except DatabaseError as error:
                if attempt == ATTEMPTS_ON_CONFLICT or not is_retryable(error):
                    raise
                logger.info("%s: %s, running the transaction again.", function.__name__, error)
                time.sleep(FIRST_WAIT_SECONDS * 2 ** (attempt - 1) * random.uniform(0.5, 1.5))

    return run


def take_write_lock():
    """On a SQLite file database whose transactions are deferred, take the write lock now (the
    current transaction's first statement): a write later in the transaction then never fails for
    another writer, and this statement waits for it as long as the database's ``timeout`` allows."""
    if connection.vendor != "sqlite" or connection.is_in_memory_db():
        # An in-memory database lives in one process, its tests; PostgreSQL locks rows, not the database.
        return
    if (connection.settings_dict.get("OPTIONS") or {}).get("transaction_mode", "").upper() in ("IMMEDIATE", "EXCLUSIVE"):
        return  # BEGIN IMMEDIATE took it already
    # A write that changes nothing takes the lock. On the driver's connection: a lock, not a query
    # of the app (query counts and the debug toolbar do not show it).
    connection.connection.execute("UPDATE django_migrations SET id = id WHERE 0")


def is_retryable(error):
    """Whether the database refused ``error``'s transaction for a reason that another try cures."""
    cause = error.__cause__
    if isinstance(cause, sqlite3.OperationalError):
        # SQLITE_BUSY ("database is locked") and SQLITE_LOCKED ("database table is locked").
        return str(cause).endswith("is locked")
    return (getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)) in RETRYABLE_SQLSTATES


@contextlib.contextmanager
def atomic_writing():
    """``transaction.atomic()`` that, outermost on SQLite, takes the write lock first (no retry:
    for a block whose work cannot simply run twice, such as storing a file)."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:
            take_write_lock()
        yield


def only_one_connection_writes():
    """True on an in-memory SQLite database (test runs): it fails a second connection's write at once
    instead of making it wait, so work after a commit must run on this connection, not in a thread."""
    return connection.vendor == "sqlite" and connection.is_in_memory_db()
