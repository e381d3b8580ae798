"""Rate limits for session creation and uploads, per user and per subject (LIVENESS['THROTTLE_RATES']).

The views check them inside the create, not in ``initial()``: see ``LivenessViewSet.check_rate_limits``."""

from rest_framework.throttling import SimpleRateThrottle

from ..conf import liveness_settings


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


class SessionCreateUserThrottle(LivenessThrottle):
    scope = "session_create_user"


class SessionCreateSubjectThrottle(PerSubjectThrottle):
    scope = "session_create_subject"


class UploadUserThrottle(LivenessThrottle):
    scope = "upload_user"


class UploadSubjectThrottle(PerSubjectThrottle):
    scope = "upload_subject"
