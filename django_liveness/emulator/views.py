"""The emulator's HTTP face: Face API v1.2 (GA), v1.3-preview.1, v1.2-preview.1 and v1.1-preview.1 liveness operations.

Routing is done here rather than in the URLconf because the service treats paths
case-insensitively (its audit log records ``/detectliveness/singlemodal``). Each version has its
routes and its serializer (``ga.GaApi``, ``preview.PreviewApi``) over the one session core.
"""

import ipaddress
import json
import re
import secrets
import time
import uuid

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from . import ga, preview, state
from .core import FAILED, LIVENESS, LIVENESS_WITH_VERIFY, EmulatorError, bad_argument

KINDS = {"detectliveness": LIVENESS, "detectlivenesswithverify": LIVENESS_WITH_VERIFY}
KIND = r"(?P<kind>detectLiveness|detectLivenessWithVerify)"
# The frontend's call: the spec does not describe it; GA's text still names /singleModal.
CLIENT_ROUTE = (rf"^{KIND}/singleModal/?$", "client")
PREVIEW_ROUTES = [
    (rf"^{KIND}/singleModal/sessions/?$", "sessions"),
    (rf"^{KIND}/singleModal/sessions/(?P<session_id>[^/]+)/?$", "session"),
    (rf"^{KIND}/singleModal/sessions/(?P<session_id>[^/]+)/audit/?$", "audit"),
    CLIENT_ROUTE,
    (r"^session/sessionImages/(?P<image_id>[^/]+)/?$", "session_image"),
]
GA_ROUTES = [
    (rf"^{KIND}-sessions/?$", "sessions"),
    (rf"^{KIND}-sessions/(?P<session_id>[^/]+)/?$", "session"),
    CLIENT_ROUTE,
    (r"^sessionImages/(?P<image_id>[^/]+)/?$", "session_image"),
]
# v1.3-preview.1: GA's operations and the resource's liveness settings.
V13_ROUTES = GA_ROUTES + [
    (r"^settings/?$", "settings"),
    (r"^settings/getClientAssetsAccessToken/?$", "client_assets_token"),
]
ROUTES = {
    version: [(re.compile(pattern, re.IGNORECASE), name) for pattern, name in routes]
    for version, routes in (
        ("v1.2", GA_ROUTES),
        ("v1.3-preview.1", V13_ROUTES),
        ("v1.2-preview.1", PREVIEW_ROUTES),
        ("v1.1-preview.1", PREVIEW_ROUTES),
    )
}


def api_for(api_version):
    """The serializer of ``api_version`` over this process's emulator."""
    if api_version in ga.API_VERSIONS:
        return ga.GaApi(state.emulator, api_version)
    return preview.PreviewApi(state.emulator)


ACCESS_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
    "for an active subscription and use a correct regional API endpoint for your resource."
)


def _json(body, status=200):
    response = JsonResponse(body, status=status, safe=False, json_dumps_params={"separators": (",", ":")})
    response["Content-Type"] = "application/json; charset=utf-8"
    response["apim-request-id"] = str(uuid.uuid4())
    return response


def _no_content(status):
    response = HttpResponse(status=status)
    del response["Content-Type"]  # no body, so no content type (Django's default is text/html)
    response["apim-request-id"] = str(uuid.uuid4())
    return response


def _error(error):
    response = _json(error.body(), status=error.status)
    response["x-ms-error-code"] = error.code
    if error.retry_after is not None:
        response["Retry-After"] = str(error.retry_after)
    return response


def _drop_connection():
    """Asks the emulator's own server to close the socket without answering.

    Servers that do not know the mark (runserver) send the response as it is: a 503 error.
    """
    response = _error(EmulatorError(503, "ConnectionDropped", "Injected fault: connection dropped."))
    response.drop_connection = True
    return response


def _cors(response):
    # The frontend calls the service straight from the browser with its session token.
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Headers"] = "Authorization, Content-Type, client-request-id"
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response["Access-Control-Expose-Headers"] = "apim-request-id, x-ms-error-code, Retry-After"
    return response


def _check_subscription_key(request):
    given = request.headers.get("Ocp-Apim-Subscription-Key", "")
    if not secrets.compare_digest(given.encode(), state.subscription_key().encode()):
        raise EmulatorError(401, "401", ACCESS_DENIED)


def _injected_fault():
    latency, action = state.faults.take()
    if latency:
        time.sleep(latency)
    if action == "drop":
        return _drop_connection()
    if action == "throttle":
        retry_after = state.faults.snapshot()["retry_after"]
        return _error(
            EmulatorError(429, "429", f"Rate limit is exceeded. Try again in {retry_after} seconds.", retry_after=retry_after)
        )
    if action == "error":
        status = state.faults.snapshot()["error_status"]
        return _error(EmulatorError(status, "InternalServerError", "Injected fault: the service failed."))
    return None


@csrf_exempt
def face(request, api_version, path):
    """Every Face API call: ``{endpoint}/face/{api_version}/{path}``."""
    started = time.monotonic()
    api_version = api_version.lower()
    for pattern, name in ROUTES.get(api_version, []):
        match = pattern.match(path)
        if match:
            break
    else:
        return _error(EmulatorError(404, "404", "Resource not found"))
    params = match.groupdict()
    if "kind" in params:
        params["kind"] = KINDS[params["kind"].lower()]
    if name == "client" and request.method == "OPTIONS":
        return _cors(HttpResponse(status=200))
    fault = _injected_fault()
    if fault is not None:
        return _cors(fault) if name == "client" else fault
    api = api_for(api_version)
    try:
        if name == "client":
            return _cors(_client_call(request, api, api_version, started=started, **params))
        _check_subscription_key(request)
        return HANDLERS[name](request, api, **params)
    except EmulatorError as error:
        response = _error(error)
        return _cors(response) if name == "client" else response


def _method_not_allowed():
    return EmulatorError(405, "405", "The requested method is not allowed for this resource.")


def _sessions(request, api, kind):
    if request.method == "GET" and isinstance(api, preview.PreviewApi):  # GA has no session list
        return _json(api.list_sessions(kind, request.GET.get("start"), request.GET.get("top")))
    if request.method != "POST":
        raise _method_not_allowed()
    content_type = request.content_type or ""
    if content_type.startswith("multipart/form-data"):
        if kind != LIVENESS_WITH_VERIFY:
            raise bad_argument("Invalid request content type: multipart/form-data.")
        if isinstance(api, ga.GaApi):
            # GA: flat form fields and a required, lower-case ``verifyImage`` file.
            image = request.FILES.get("verifyImage")
            if image is None:
                raise bad_argument("Missing required part: verifyImage.")
            return _json(api.create_session(kind, request.POST.dict(), image.read()))
        params = _parse_json(request.POST.get("Parameters"), "Parameters")
        image = request.FILES.get("VerifyImage")
        if image is None:
            raise bad_argument("Missing required part: VerifyImage.")
        return _json(api.create_session(kind, params, image.read()))
    if isinstance(api, ga.GaApi) and kind == LIVENESS_WITH_VERIFY:
        raise EmulatorError(415, "UnsupportedMediaType", "Content type must be multipart/form-data.")
    if content_type != "application/json":
        raise EmulatorError(415, "UnsupportedMediaType", "Content type must be application/json or multipart/form-data.")
    return _json(api.create_session(kind, _parse_json(request.body, "body")))


def _parse_json(raw, what):
    if raw in (None, b"", ""):
        raise bad_argument(f"Missing required {what}.")
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise bad_argument(f"Invalid JSON in {what}.") from None
    if not isinstance(value, dict):
        raise bad_argument(f"{what} must be a JSON object.")
    return value


def _session(request, api, kind, session_id):
    if request.method == "GET":
        return _json(api.get_session(kind, session_id))
    if request.method == "DELETE":
        api.delete_session(kind, session_id)
        return _no_content(204 if isinstance(api, ga.GaApi) else 200)
    raise _method_not_allowed()


def _audit(request, api, kind, session_id):
    if request.method != "GET":
        raise _method_not_allowed()
    return _json(api.audit_entries(kind, session_id, request.GET.get("start"), request.GET.get("top")))


def _session_image(request, api, image_id):
    if request.method != "GET":
        raise _method_not_allowed()
    response = HttpResponse(api.session_image(image_id), content_type="application/octet-stream")
    response["apim-request-id"] = str(uuid.uuid4())
    return response


def _settings(request, api):
    if request.method == "GET":
        return _json(api.settings())
    if request.method != "PATCH":
        raise _method_not_allowed()
    if request.content_type != "application/json":
        raise EmulatorError(415, "UnsupportedMediaType", "Content type must be application/json.")
    return _json(api.patch_settings(_parse_json(request.body, "body")))


def _client_assets_token(request, api):
    if request.method != "GET":
        raise _method_not_allowed()
    return _json(api.client_assets_token())


HANDLERS = {
    "sessions": _sessions,
    "session": _session,
    "audit": _audit,
    "session_image": _session_image,
    "settings": _settings,
    "client_assets_token": _client_assets_token,
}


def _client_call(request, api, api_version, kind, started):
    """The frontend's capture call, authorised by the session's auth token."""
    if request.method != "POST":
        raise _method_not_allowed()
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise EmulatorError(401, "Unauthorized", "Missing session token: send 'Authorization: Bearer <authToken>'.")
    state.emulator.session_for_token(token)  # 401 before looking at the body
    if not (request.content_type or "").startswith("multipart/form-data"):
        raise bad_argument("The capture must be sent as multipart/form-data.")
    files = list(request.FILES.values())
    if not files:
        raise bad_argument("No image in the request: send the capture as a file part.")
    choices = _test_mode_choices(request.POST)
    # Test mode: ``client_ip`` plays a capture from another address than the caller's.
    client_ip = choices.pop("client_ip", None) or request.META.get("REMOTE_ADDR", "")
    call = api.detect(
        token,
        kind,
        files[0].read(),
        api_version=api_version,
        request={
            "contentLength": int(request.META.get("CONTENT_LENGTH") or 0),
            "userAgent": request.headers.get("User-Agent", ""),
            "clientRequestId": request.headers.get("client-request-id", ""),
            "clientIp": client_ip,
        },
        latency_ms=int((time.monotonic() - started) * 1000),  # injected latency included
        **choices,
    )
    response = _client_response(api, call)
    response["apim-request-id"] = call.get("requestId") or str(uuid.uuid4())  # the audit entry's requestId
    return response


def _client_response(api, call):
    """What the frontend gets: the attempt's error, else 204 (preview: its body with sendResultsToClient)."""
    if isinstance(api, ga.GaApi):
        if call["attemptStatus"] == FAILED:
            return _error(EmulatorError(400, call["error"]["code"], call["error"]["message"]))
        return _no_content(204)
    result = call["response"]
    if result["statusCode"] == 400:
        return _error(EmulatorError(400, result["body"]["error"]["code"], result["body"]["error"]["message"]))
    return _no_content(204) if result["statusCode"] == 204 else _json(result["body"])


def _test_mode_choices(form):
    choices = {}
    if form.get("decision"):
        choices["decision"] = form["decision"].strip().lower()
    if form.get("error_code"):
        choices["error_code"] = form["error_code"].strip()
    for flag in ("same_person", "finish"):
        if form.get(flag):
            value = form[flag].strip().lower()
            if value not in ("true", "false"):
                raise bad_argument(f"{flag} must be 'true' or 'false'.")
            choices[flag] = value == "true"
    if form.get("client_ip"):
        try:
            choices["client_ip"] = str(ipaddress.ip_address(form["client_ip"].strip()))
        except ValueError:
            raise bad_argument("client_ip must be an IP address.") from None
    if form.get("abuse_detected"):
        if form["abuse_detected"].strip().lower() != "true":
            raise bad_argument("abuse_detected must be 'true' (leave it out for no flag).")
        flagged = form.get("flagged_sessions", "")
        choices["abuse_flagged_with"] = [item.strip() for item in flagged.split(",") if item.strip()]
    elif form.get("flagged_sessions"):
        raise bad_argument("flagged_sessions needs abuse_detected=true.")
    if form.get("match_confidence"):
        try:
            choices["match_confidence"] = float(form["match_confidence"])
        except ValueError:
            raise bad_argument("match_confidence must be a number between 0 and 1.") from None
    return choices


@csrf_exempt
def fault_control(request):
    """``GET/POST/DELETE {endpoint}/faults``: read, arm or clear injected faults (subscription key)."""
    try:
        _check_subscription_key(request)
        if request.method == "GET":
            return _json(state.faults.snapshot())
        if request.method == "DELETE":
            state.faults.reset()
            return _json(state.faults.snapshot())
        if request.method != "POST":
            raise _method_not_allowed()
        changes = _parse_json(request.body, "body")
        try:
            return _json(state.faults.configure(**changes))
        except ValueError as error:
            raise bad_argument(str(error)) from None
    except EmulatorError as error:
        return _error(error)
