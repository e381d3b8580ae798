"""The costly work a request did: a provider call (it spends the Face resource's shared quota) or
an uploaded image read and decoded.

The backends' base class and the upload service say when such work starts (``spend``); the REST
API's rate limits measure a request (``measure``) and count a refused one only when it got that far,
so a refusal before any work (a 404, a lock, no consent, a replay) uses up no quota.
"""

import contextlib
import contextvars

_meter = contextvars.ContextVar("liveness_costly_work", default=None)


class Meter:
    def __init__(self):
        self.units = 0

    @property
    def spent(self):
        return self.units > 0


def spend():
    """Costly work starts now (counted by the ``measure`` around it, if any)."""
    meter = _meter.get()
    if meter is not None:
        meter.units += 1


@contextlib.contextmanager
def measure():
    """Yield a Meter of the costly work done inside the block."""
    meter = Meter()
    token = _meter.set(meter)
    try:
        yield meter
    finally:
        _meter.reset(token)
