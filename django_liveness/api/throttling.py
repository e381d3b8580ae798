"""Rate limits for session creation, uploads, complete/ and frontend reports (LIVENESS['THROTTLE_RATES']).

The views take them inside the action, not in ``initial()``: see ``RateLimitMixin.rate_limits``.
A request reserves its slot before the work, in one atomic cache operation, so concurrent requests
cannot all slip under a limit; the slot is given back when the request cost nothing (``costly_work``).
"""

from contextlib import contextmanager

from rest_framework.throttling import SimpleRateThrottle

from ..common import costly_work
from ..conf import liveness_settings


class RateLimitMixin:
    @contextmanager
    def rate_limits(self, *throttles, count_success=True):
        """Reserve a slot of each limit for the block, inside the action (not in ``initial()``), so
        that a replayed Idempotency-Key and a caller who may not act on the subject use up no quota.

        The slot stays taken when the block did costly work (a provider call, an image decoded),
        whether it then succeeded or was refused, and, with ``count_success``, when it succeeded;
        otherwise (a start refused for want of consent, a complete answered from the stored state)
        it is given back."""
        reserved = []
        for throttle in throttles:
            if not throttle.reserve(self.request, self):
                _release(reserved)
                self.throttled(self.request, throttle.wait())
            reserved.append(throttle)
        succeeded = False
        with costly_work.measure() as work:
            try:
                yield
                succeeded = True
            finally:
                if not work.spent and not (succeeded and count_success):
                    _release(reserved)


def _release(throttles):
    for throttle in throttles:
        throttle.release()


class LivenessThrottle(SimpleRateThrottle):
    """N requests per period, in fixed windows of that period: a counter per window in the cache,
    taken with ``cache.add`` and ``cache.incr`` (atomic on Redis, Memcached and the local-memory cache)."""

    scope = None  # a key of LIVENESS['THROTTLE_RATES']

    def get_rate(self):
        return liveness_settings.THROTTLE_RATES[self.scope]

    def reserve(self, request, view):
        """Take one slot of the current window; False (nothing taken) when none is left."""
        self.slot_key = None
        rate = self.get_rate()  # read per request, so that a settings change applies at once
        ident = self.identify(request, view)
        if rate is None or ident is None:
            return True
        limit, period = self.parse_rate(rate)
        now = self.timer()
        window = int(now // period)
        self.window_ends_in = (window + 1) * period - now
        key = f"{self.cache_format % {'scope': f'liveness_{self.scope}', 'ident': ident}}:{window}"
        self.cache.add(key, 0, period + 1)  # outlives its window
        try:
            taken = self.cache.incr(key)
        except ValueError:  # evicted between the two calls
            self.cache.add(key, 0, period + 1)
            taken = self.cache.incr(key)
        if taken > limit:
            self.cache.decr(key)
            return False
        self.slot_key = key
        return True

    def release(self):
        """Give back the slot ``reserve`` took (the request cost nothing)."""
        if self.slot_key is not None:
            try:
                self.cache.decr(self.slot_key)
            except ValueError:  # the window has ended meanwhile: nothing to give back
                pass
            self.slot_key = None

    def wait(self):
        return max(1, round(self.window_ends_in))

    def identify(self, request, view):
        return request.user.pk


class PerSubjectThrottle(LivenessThrottle):
    """Checked by the view once it has found the subject visible to the caller (not in the view's
    ``throttle_classes``): so a caller who gets a 404 uses up no one's quota, and the key is the stored
    UUID, not the client's spelling of it."""

    def __init__(self, subject):
        super().__init__()
        self.subject = subject

    def identify(self, request, view):
        return f"subject-{self.subject.pk}"


class PerSessionThrottle(LivenessThrottle):
    def __init__(self, session):
        super().__init__()
        self.session = session

    def identify(self, request, view):
        return f"session-{self.session.pk}"


class SessionCreateUserThrottle(LivenessThrottle):
    scope = "session_create_user"


class SessionCreateSubjectThrottle(PerSubjectThrottle):
    scope = "session_create_subject"


class UploadUserThrottle(LivenessThrottle):
    scope = "upload_user"


class UploadSubjectThrottle(PerSubjectThrottle):
    scope = "upload_subject"


class CompleteUserThrottle(LivenessThrottle):
    scope = "complete_user"


class CompleteSessionThrottle(PerSessionThrottle):
    """The hosted page's complete/: per session, that is per page token (the page has no user)."""

    scope = "complete_session"


class ClientEventThrottle(PerSessionThrottle):
    scope = "client_event_session"
