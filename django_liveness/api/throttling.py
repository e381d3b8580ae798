"""Rate limits for session creation, uploads and frontend reports (LIVENESS['THROTTLE_RATES']).

The views check them inside the action, not in ``initial()``, and count a request only once it
succeeded: see ``RateLimitMixin.rate_limits``."""

from contextlib import contextmanager

from rest_framework.throttling import SimpleRateThrottle

from ..conf import liveness_settings


class RateLimitMixin:
    @contextmanager
    def rate_limits(self, *throttles):
        """Check the rate limits of an action inside it (not in ``initial()``), so that a replayed
        Idempotency-Key and a caller who may not act on the subject use up no quota; count the
        request only when the block succeeds, so that a refused start (no consent, the provider
        down) does not either."""
        for throttle in throttles:
            if not throttle.allow_request(self.request, self):
                self.throttled(self.request, throttle.wait())
        yield
        for throttle in throttles:
            throttle.record()


class LivenessThrottle(SimpleRateThrottle):
    scope = None  # a key of LIVENESS['THROTTLE_RATES']

    def get_rate(self):
        return liveness_settings.THROTTLE_RATES[self.scope]

    def allow_request(self, request, view):
        # Read the rate per request, so that a settings change applies at once.
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def throttle_success(self):
        return True  # counted by record(), once the request did what it asked

    def record(self):
        if self.rate is None or self.key is None:
            return
        history = self.cache.get(self.key, [])
        history.insert(0, self.timer())
        self.cache.set(self.key, history, self.duration)

    def get_cache_key(self, request, view):
        ident = self.identify(request, view)
        if ident is None:
            return None
        return self.cache_format % {"scope": f"liveness_{self.scope}", "ident": ident}

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


class ClientEventThrottle(PerSessionThrottle):
    scope = "client_event_session"
