"""The hosted capture page's calls (docs/capture.md): the session's state, complete and client
events, answered as the API's own (same serializer, rate limits and error shape) but authorised by
the page token in the X-Liveness-Capture header instead of a user. The page itself is ``capture/``."""

from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from ..capture import links
from ..models import LivenessSession
from .errors import ErrorFormatMixin
from .parsers import JSONParser
from .serializers import SessionDetailSerializer
from .throttling import CompleteSessionThrottle, RateLimitMixin
from .views import answer_client_event, complete_session


class HostedCaptureView(ErrorFormatMixin, RateLimitMixin, APIView):
    """A call of the hosted page: the page token in the X-Liveness-Capture header is the credential."""

    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]
    throttle_classes = []

    def get_session(self):
        token = self.request.headers.get(links.PAGE_TOKEN_HEADER, "")
        try:
            session_id = links.session_id_of_page_token(token)
        except links.InvalidLink:
            raise NotFound() from None
        session = LivenessSession.objects.select_related("subject").filter(pk=session_id).first()
        if session is None or session.capture_link_opened_at is None:
            raise NotFound()
        return session


class HostedSessionView(HostedCaptureView):
    def get(self, request):
        return Response(SessionDetailSerializer(self.get_session()).data)


class HostedCompleteView(HostedCaptureView):
    def post(self, request):
        session = self.get_session()
        return complete_session(self, session, CompleteSessionThrottle(session), actor=None)


class HostedClientEventView(HostedCaptureView):
    def post(self, request):
        return answer_client_event(self, self.get_session(), actor=None)
