"""One error format for every 4xx/5xx answer of the API:

    {"detail": "<what was wrong>", "code": "<stable code>", "fields": {"<field>": ["..."]}}

``fields`` is present for validation errors only. Provider throttling and outages are 503 with
Retry-After, a subject locked after too many failed checks 429 with Retry-After; the views handle
errors themselves, whatever the host's EXCEPTION_HANDLER is.
"""

import logging

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, status
from rest_framework.views import exception_handler

from .. import exceptions as liveness

logger = logging.getLogger("django_liveness")

DEFAULT_RETRY_AFTER = 5


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "provider_unavailable"


class BadGateway(exceptions.APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_code = "provider_error"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class TooManyFailures(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "subject_locked"


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"
    default_detail = gettext_lazy("The request body is larger than the server accepts.")


def to_api_exception(error):
    """Translate django-liveness and Django errors into DRF's exceptions (or return None)."""
    if isinstance(error, liveness.SubjectLocked):
        locked = TooManyFailures(error.message, code=error.code)
        locked.wait = error.retry_after
        return locked
    if isinstance(error, (liveness.InvalidSessionState, liveness.SubjectHasSessions)):
        return Conflict(error.message, code=error.code)
    if isinstance(error, liveness.ServiceError):
        return exceptions.ValidationError({"detail": error.message}, code=error.code)
    if isinstance(error, (liveness.Throttled, liveness.ProviderUnavailable)):
        code = "provider_throttled" if isinstance(error, liveness.Throttled) else "provider_unavailable"
        unavailable = ServiceUnavailable(_("The liveness provider is busy or unavailable; retry later."), code=code)
        unavailable.wait = error.retry_after if error.retry_after is not None else DEFAULT_RETRY_AFTER
        return unavailable
    if isinstance(error, liveness.StorageUnavailable):
        unavailable = ServiceUnavailable(error.message, code=error.code)
        unavailable.wait = DEFAULT_RETRY_AFTER if error.transient else None  # a configuration error: no Retry-After
        return unavailable
    if isinstance(error, liveness.InvalidImage):
        return exceptions.ValidationError(
            {"image": [error.message or _("The provider refused the image.")]}, code="invalid_image"
        )
    if isinstance(error, liveness.BackendError):
        logger.error("Provider error %s (%s) in the REST API", error.code, error.status)
        return BadGateway(_("The liveness provider refused the request."), code=f"provider_{error.code}".lower())
    if isinstance(error, DjangoValidationError):
        return exceptions.ValidationError({"image": error.messages}, code=getattr(error, "code", None) or "invalid")
    if isinstance(error, Http404):
        return exceptions.NotFound()
    # Django raises these while reading the body (DATA_UPLOAD_MAX_*); left alone they become HTML pages.
    if isinstance(error, RequestDataTooBig):
        return RequestTooLarge()
    if isinstance(error, TooManyFieldsSent):
        return exceptions.ValidationError({"detail": _("The request has too many fields.")}, code="too_many_fields")
    if isinstance(error, TooManyFilesSent):
        return exceptions.ValidationError({"detail": _("The request has too many files.")}, code="too_many_files")
    return None


def _first_code(codes):
    if isinstance(codes, dict):
        for value in codes.values():
            return _first_code(value)
    if isinstance(codes, list) and codes:
        return _first_code(codes[0])
    return codes if isinstance(codes, str) else "invalid"


def error_response(error, context):
    """Render ``error`` in the API's error format, or return None for an unexpected error."""
    error = to_api_exception(error) or error
    response = exception_handler(error, context)
    if response is None:
        return None
    if isinstance(error, (ServiceUnavailable, TooManyFailures)) and error.wait is not None:
        response["Retry-After"] = str(error.wait)
    elif isinstance(error, exceptions.Throttled) and not response.has_header("Retry-After"):
        response["Retry-After"] = str(DEFAULT_RETRY_AFTER)  # DRF leaves it out when a throttle cannot say: every 429 has one
    data = response.data
    if isinstance(error, exceptions.ValidationError) and isinstance(data, dict) and set(data) == {"detail"}:
        body = {"detail": str(data["detail"]), "code": _first_code(error.get_codes())}
    elif isinstance(error, exceptions.ValidationError):
        fields = data if isinstance(data, dict) else {"non_field_errors": data}
        body = {"detail": _("Invalid input."), "code": _first_code(error.get_codes()), "fields": fields}
    else:
        body = {"detail": str(data.get("detail", "")), "code": _first_code(error.get_codes())}
    response.data = body
    return response


class ErrorFormatMixin:
    """Views of this API render errors in one format, whatever the host's EXCEPTION_HANDLER is."""

    def handle_exception(self, error):
        if isinstance(error, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
            authenticate_header = self.get_authenticate_header(self.request)
            if authenticate_header:
                error.auth_header = authenticate_header
            else:
                error.status_code = status.HTTP_403_FORBIDDEN
        response = error_response(error, self.get_exception_handler_context())
        if response is None:
            self.raise_uncaught_exception(error)
        if getattr(error, "auth_header", None):
            response["WWW-Authenticate"] = error.auth_header
        response.exception = True
        return response
