"""REST API: error messages pass through gettext, so they answer in the request's language once
catalogues exist; what is stored (events, a session's error_message) stays English.

No catalogue exists yet: a patched ``DjangoTranslation.gettext`` "translates" into French by
marking the text, so a message that skips gettext answers unmarked. The test settings install no
LocaleMiddleware (Accept-Language is ignored), so the language is activated around the client call,
which runs in-process."""

from unittest import mock

import pytest
from django.utils import translation

from django_liveness.exceptions import Unauthorized
from django_liveness.models import LivenessEvent, LivenessSession

from .api_support import client_for, start

pytestmark = pytest.mark.django_db

NO_REFERENCE_IMAGE = "The subject has no active reference image; upload one before a liveness-with-verify session."


def _fake_french(self, message):
    return f"[fr] {message}" if self.language() == "fr" else message


@pytest.fixture
def french():
    """Activate French with a catalogue that marks every message it translates."""
    with (
        mock.patch(
            "django.utils.translation.trans_real.DjangoTranslation.gettext", autospec=True, side_effect=_fake_french
        ),
        translation.override("fr"),
    ):
        yield


def test_a_documented_error_answers_in_the_requests_language(owner, subject, locmem, french):
    response = start(client_for(owner), subject)
    assert response.status_code == 400
    assert response.json() == {"detail": f"[fr] {NO_REFERENCE_IMAGE}", "code": "no_reference_image"}
    assert not LivenessSession.objects.exists() and locmem.calls == []


def test_what_is_stored_stays_english_while_the_answer_is_translated(owner, subject, locmem, french):
    locmem.fail_next(Unauthorized("", status=401))
    response = start(client_for(owner), subject, verify=False)
    assert response.status_code == 502
    assert response.json() == {
        "detail": "[fr] The liveness provider refused the request.",
        "code": "provider_unauthorized",
    }
    session = LivenessSession.objects.get()
    assert (session.status, session.error_message) == ("failed", "The provider refused the session.")
    assert "[fr]" not in session.error_message
    messages = list(LivenessEvent.objects.filter(session=session).values_list("message", flat=True))
    assert "The provider refused the session." in messages
    assert not any("[fr]" in message for message in messages)
