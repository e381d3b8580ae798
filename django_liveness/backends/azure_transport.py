"""What the GA client and the preview SDK client share: the pipeline's policies and timeouts,
and the translation of azure-core's errors into the contract's ``BackendError``s."""

from ..observability import tracing
from ..exceptions import LivenessConfigurationError, ProviderUnavailable
from .base import error_for, parse_retry_after


def import_azure_core():
    """azure-core, or a configuration error that says how to install it."""
    try:
        import azure.core  # noqa: F401
    except ImportError as error:
        raise LivenessConfigurationError(
            f'AzureFaceBackend needs azure-core: pip install "django-liveness[azure]" (could not import it: {error}).'
        ) from error


def retry_policy(options):
    from .azure_retry import CappedRetryPolicy

    return CappedRetryPolicy(
        max_retry_after=options["max_retry_after"],
        retry_total=options["retry_total"],
        retry_backoff_factor=options["retry_backoff_factor"],
        retry_backoff_max=options["retry_backoff_max"],
    )


def pipeline_policies(*, key, options, user_agent):
    """The policies of a ``PipelineClient``: request id, user agent, capped retries, the key header."""
    from azure.core.credentials import AzureKeyCredential
    from azure.core.pipeline import policies

    return [
        policies.RequestIdPolicy(),
        policies.HeadersPolicy(),
        policies.UserAgentPolicy(base_user_agent=user_agent),
        retry_policy(options),
        policies.AzureKeyCredentialPolicy(AzureKeyCredential(key), "Ocp-Apim-Subscription-Key"),
        policies.DistributedTracingPolicy(),
        policies.HttpLoggingPolicy(),  # logs headers with the key redacted, never bodies
    ]


def transport(options):
    from azure.core.pipeline.transport import RequestsTransport

    return RequestsTransport(connection_timeout=options["connection_timeout"], read_timeout=options["read_timeout"])


def call(endpoint, send, *args, **kwargs):
    """Run ``send(*args, **kwargs)``; return its response, or raise the BackendError its failure maps to.

    ``endpoint`` names the service in the error when it could not be reached: "unavailable" alone
    leaves an operator guessing which URL is wrong. With tracing on, azure-core traces the call (its
    HTTP span, under the backend's span of the provider call)."""
    from azure.core import exceptions

    try:
        response = send(*args, **kwargs, **tracing.azure_options())
    except exceptions.HttpResponseError as error:  # what the SDK raises for an error answer
        raise _error_of(error.response, error.status_code, str(error.message or "")) from None
    except (exceptions.ServiceRequestError, exceptions.ServiceResponseError) as error:
        raise ProviderUnavailable(
            f"The Face service at {endpoint} could not be reached ({type(error).__name__})."
        ) from None
    status = getattr(response, "status_code", None)
    if isinstance(status, int) and status >= 400:  # a PipelineClient answers errors too
        raise _error_of(response, status, "")
    return response


def _error_of(response, status, message):
    code = ""
    if response is None:
        return error_for(status, code, message)
    try:
        body = response.json()["error"]
        code, message = body.get("code") or "", body.get("message") or message
    except Exception:  # not the service's error body (a proxy, a gateway ...)
        pass
    return error_for(status, code, message, parse_retry_after(response.headers.get("Retry-After")))
