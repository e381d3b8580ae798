"""Play the frontend against an emulator over HTTP: what a test does instead of a camera.

    from django_liveness.emulator.client import play_frontend
    play_frontend(endpoint, session.auth_token, verify=True, decision="spoofface")
"""

import json
import uuid
from urllib.error import HTTPError
from urllib.request import Request, urlopen

from ..images import sample_face_image

API_VERSION = "v1.2"


class FrontendCallFailed(Exception):
    def __init__(self, status, body):
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


def encode_multipart(fields, files):
    """Return (content type, body) of a multipart/form-data request."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, data, content_type) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(parts)


def play_frontend(
    endpoint,
    auth_token,
    *,
    verify,
    image=None,
    decision="realface",
    same_person=True,
    match_confidence=None,
    finish=True,
    error_code="",
    api_version=API_VERSION,
    timeout=10,
    client_ip="",
    abuse_flagged_with=None,
):
    """Send a capture with the session's auth token, choosing the outcome.

    ``error_code`` (``"FaceWithMaskDetected"`` ...) makes this attempt fail with that code: the
    call raises ``FrontendCallFailed`` (400) and the session allows another attempt. Returns None
    for the service's usual 204, or the preview's LivenessResponseBody when the session was
    created with ``sendResultsToClient``; the result is read with the subscription key.
    v1.3-preview.1: ``client_ip`` plays a capture from that address (one outside the session's
    ``expectedClientIpAddress`` fails with ``ClientIpAddressMismatch``), ``abuse_flagged_with`` (a
    list of session ids, ``[]`` for none) has the abuse monitoring flag the attempt with them.
    """
    fields = {"decision": decision, "same_person": str(same_person).lower(), "finish": str(finish).lower()}
    if match_confidence is not None:
        fields["match_confidence"] = str(match_confidence)
    if error_code:
        fields["error_code"] = error_code
    if client_ip:
        fields["client_ip"] = client_ip
    if abuse_flagged_with is not None:
        fields["abuse_detected"] = "true"
        fields["flagged_sessions"] = ",".join(abuse_flagged_with)
    content_type, body = encode_multipart(fields, {"content": ("capture.jpg", image or sample_face_image(), "image/jpeg")})
    path = "detectLivenessWithVerify" if verify else "detectLiveness"
    request = Request(
        f"{endpoint.rstrip('/')}/face/{api_version}/{path}/singleModal",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {auth_token}", "Content-Type": content_type},
    )
    try:
        with urlopen(request, timeout=timeout) as response:
            body = response.read()
            return json.loads(body) if body else None
    except HTTPError as error:
        raise FrontendCallFailed(error.code, error.read().decode(errors="replace")) from None
