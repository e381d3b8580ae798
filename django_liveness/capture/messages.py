"""Every string the capture widget (static/django_liveness/capture.js) shows, translated.

The widget never holds English of its own: the page renders ``capture_messages()`` into the
widget's config (``"messages"``), in the language active for the request. To change a wording,
override it in the config (``{**capture_messages(), "capture": "Take the picture"}``).
"""

from django.utils.translation import gettext as _
from django.utils.translation import ngettext


def capture_messages() -> dict[str, str]:
    """The widget's strings by key, in the active language."""
    return {
        # Camera and picture
        "camera_preview": _("Camera preview"),
        "camera_starting": _("Starting the camera…"),
        "camera_ready": _("Look straight at the camera, in good light, then press “Capture and check”."),
        "camera_no_picture": _(
            "The camera shows no picture yet. Check that nothing covers it, or choose a picture of your face below."
        ),
        "camera_denied": _(
            "The camera is blocked. Allow camera access in your browser’s settings and reload the page, "
            "or choose a picture of your face below."
        ),
        "camera_not_found": _("No camera was found. Choose a picture of your face below."),
        "camera_unavailable": _("The camera could not be started. Choose a picture of your face below."),
        "picture_label": _("Or choose a picture of your face"),
        "picture_chosen": _("Picture chosen. Press “Capture and check”."),
        # Buttons and links
        "start": _("Start the check"),
        "capture": _("Capture and check"),
        "try_again": _("Try again"),
        "check_again": _("Check again"),
        "start_again": _("Start again"),
        "continue": _("Continue"),
        # Waiting
        "starting": _("Starting the check…"),
        "checking": _("Checking your picture…"),
        "waiting_result": _("Getting your result…"),
        "still_waiting": _("This is taking longer than usual. Your result is kept: check again in a minute."),
        "loading_component": _("Loading the camera check…"),
        # Errors in words
        "network_error": _("Could not reach the server. Check your connection and try again."),
        "server_error": _("Something went wrong on our side. Please try again in a moment."),
        "request_refused": _("This request was refused. Reload the page and try again."),
        "component_missing": _("The camera check could not be loaded. Reload the page, or try again later."),
        # Test mode (emulator): the result the person chooses to simulate
        "outcomes_legend": _("Result to simulate (test mode)"),
        "outcome_live": _("A live person"),
        "outcome_spoof": _("A spoof (a photo or a screen)"),
        "outcome_uncertain": _("Uncertain"),
        "outcome_different": _("A different person"),
        "outcome_no_face": _("A failed attempt (no face found)"),
        # A failed attempt: the session stays open for another picture
        "attempt_failed": _("That picture could not be checked."),
        "attempt_no_face": _("We could not see a face. Try again in better light, with your face in the middle of the picture."),
        "attempt_too_many_faces": _("More than one face was in the picture. Try again with only your face."),
        "attempt_face_covered": _("Something covers your face. Take it off and try again."),
        "attempt_other": _("Try again in better light, looking straight at the camera."),
        # The service refused a capture from another address than the one the session was bound to
        # (LIVENESS["BIND_CLIENT_IP"], v1.3-preview.1): another try from here fails the same way.
        "attempt_wrong_network": _(
            "This check has to be done on the device and network that started it. Go back there to try again."
        ),
        # How many more pictures the session takes (Face API v1.3: LIVENESS["CLIENT_ATTEMPTS"] > 1);
        # "{count}" is replaced by the number (1 or 2).
        "attempts_left_one": ngettext("{count} attempt left.", "{count} attempts left.", 1),
        "attempts_left_other": ngettext("{count} attempt left.", "{count} attempts left.", 2),
        # Results
        "passed_title": _("You are verified"),
        "passed_next": _("Thank you. Your identity is confirmed."),
        "review_title": _("A reviewer will look at this"),
        "review_next": _("We could not decide automatically. A person will check your pictures; you do not need to do anything now."),
        "spoof_title": _("We could not confirm that a live person was in front of the camera"),
        "mismatch_title": _("The face did not match your reference photo"),
        "rejected_title": _("A reviewer did not accept this check"),
        "not_verified_title": _("You are not verified"),
        "expired_title": _("This check has expired"),
        "canceled_title": _("This check was canceled"),
        "failed_title": _("This check could not be finished"),
        "used_up_title": _("This check cannot take more pictures"),
        # What to do after a final result that is not a pass: advice that fits the reason, then the way on
        "advice_spoof": _("Use your own face, in good light, not a photo or a screen."),
        "advice_mismatch": _("Check that your reference photo is a clear, recent photo of you."),
        "next_start_again": _("Press “Start again” to begin a new check."),
        "next_go_back": _("Go back to the app to begin a new check. You can close this page."),
    }
