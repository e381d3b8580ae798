"""Rate limits for session creation and uploads, per user and per subject (LIVENESS['THROTTLE_RATES'])."""

import hashlib

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
    def identify(self, request, view):
        data = request.data if isinstance(request.data, dict) else {}  # a JSON list is refused later
        subject = view.kwargs.get("subject_pk") or data.get("subject")
        if not isinstance(subject, str) or not subject:
            return None
        # Hashed: the id comes from the client and must not shape the cache key.
        return "subject-" + hashlib.sha256(subject.encode()).hexdigest()[:32]


class SessionCreateUserThrottle(LivenessThrottle):
    scope = "session_create_user"


class SessionCreateSubjectThrottle(PerSubjectThrottle):
    scope = "session_create_subject"


class UploadUserThrottle(LivenessThrottle):
    scope = "upload_user"


class UploadSubjectThrottle(PerSubjectThrottle):
    scope = "upload_subject"
