"""Prove the ``LIVENESS`` configuration end to end, for an operator (``manage.py liveness_check``).

``run_check()`` builds the configured backend afresh (so the process's own backend is left alone),
resolves the endpoint's host, then creates and deletes a liveness session and a liveness-with-verify
session (with the bundled sample photo), timing each step. Each call is made once: the backend's
retries are turned off, so the report shows what the service answered and how long one call took.
Whatever the check created is deleted, even when a later step fails. Nothing here prints: the
command renders the ``CheckReport``.
"""

import socket
import ssl
import time
import urllib.request
from dataclasses import dataclass, field
from importlib import resources
from urllib.parse import urlsplit

from django.core import checks

from ..conf import liveness_settings
from ..exceptions import (
    BackendError,
    InvalidImage,
    LivenessConfigurationError,
    ProviderUnavailable,
    SessionNotFound,
    Throttled,
    Unauthorized,
)
from ..services import face_resource
from .checks import DEPLOY_ERRORS

LIVENESS, VERIFY = "liveness", "verify"
KINDS = (LIVENESS, VERIFY)
KIND_NAMES = {LIVENESS: "liveness session", VERIFY: "liveness-with-verify session"}
# The shortest token lifetime the Face API allows: a session the check failed to delete soon stops working.
TOKEN_TTL_SECONDS = 60
DEVICE_CORRELATION_ID = "django-liveness-check"

OK, FAILED, SKIPPED = "ok", "failed", "skipped"
# Timeouts of urllib3, requests and azure-core that do not derive from TimeoutError.
TIMEOUT_ERRORS = {
    "ReadTimeoutError",
    "ConnectTimeoutError",
    "ServiceRequestTimeoutError",
    "ServiceResponseTimeoutError",
}

# Why a check failed (``CheckReport.cause``); the command turns each into its exit status.
CONFIGURATION = "configuration"  # the settings are incomplete or wrong before any call
DOES_NOT_RESOLVE = "does_not_resolve"  # the endpoint's host name is unknown (resource name or region)
UNREACHABLE = "unreachable"  # no connection: refused, timed out, TLS, dropped
ACCESS_DENIED = "access_denied"  # 401 / 403
NOT_FOUND = "not_found"  # 404 on a create: not a Face endpoint, or not this API version
THROTTLED = "throttled"  # 429
SERVICE_FAILED = "service_failed"  # 5xx
REFUSED = "refused"  # any other refusal (a 400, the sample image)
CAUSES = (CONFIGURATION, DOES_NOT_RESOLVE, UNREACHABLE, ACCESS_DENIED, NOT_FOUND, THROTTLED, SERVICE_FAILED, REFUSED)


def sample_reference_image():
    """The photo the check sends for its verify session (django_liveness/data/README.md says whose)."""
    return resources.files("django_liveness").joinpath("data", "sample-face.jpg").read_bytes()


@dataclass
class Step:
    name: str
    status: str = SKIPPED
    latency_ms: int | None = None
    detail: str = ""
    explanation: str = ""  # on failure: what is wrong and what to do, in plain words
    cause: str = ""  # on failure: one of CAUSES

    @property
    def ok(self):
        return self.status == OK


@dataclass
class CheckReport:
    backend: str = ""  # dotted path of the backend class
    service: str = ""  # what the endpoint is: Azure, the emulator, in process
    endpoint: str = ""
    key: str = ""  # "set (32 characters) (from the VISION_KEY environment variable)": no part of the key
    api_version: str = ""
    notes: list = field(default_factory=list)  # the backend's own warnings (manage.py check)
    steps: list = field(default_factory=list)
    total_ms: int = 0

    @property
    def ok(self):
        return self.failure is None

    @property
    def failure(self):
        return next((step for step in self.steps if step.status == FAILED), None)


class _Failed(Exception):
    def __init__(self, cause, explanation):
        super().__init__(explanation)
        self.cause, self.explanation = cause, explanation


def run_check(*, kinds=KINDS, timeout=None):
    """Run every step for the session ``kinds`` and return a CheckReport.

    ``timeout`` (seconds) replaces the backend's connection and read timeouts when it has them.
    """
    started = time.perf_counter()
    check = _Check(kinds, timeout)
    try:
        check.run()
    finally:
        check.close()
    check.report.total_ms = _ms_since(started)
    return check.report


class _Check:
    def __init__(self, kinds, timeout):
        self.kinds, self.timeout = kinds, timeout
        self.report = CheckReport()
        self.backend = None
        self.host = self.port = None
        self.endpoint_source = self.key_source = ""
        self.left_over = []  # (session_id, verify) created and not deleted yet

    def run(self):
        plan = [(Step("configuration"), self.configure, None), (Step("resolve the host name"), self.resolve, None)]
        for kind in self.kinds:
            verify = kind == VERIFY
            plan.append((Step(f"create {KIND_NAMES[kind]}"), lambda verify=verify: self.create(verify), None))
            plan.append((Step(f"delete {KIND_NAMES[kind]}"), lambda verify=verify: self.delete(verify), verify))
        plan.append((Step("read the liveness settings"), self.read_settings, None))
        self.report.steps = [step for step, _action, _deletes in plan]
        for step, action, deletes in plan:
            # After a failure only the deletion of what was created still runs.
            if self.report.ok or any(verify == deletes for _session_id, verify in self.left_over):
                self.timed(step, action)

    def timed(self, step, action):
        started = time.perf_counter()
        try:
            step.detail = action() or ""
            step.status = OK
        except _Failed as failure:
            step.status, step.cause, step.explanation = FAILED, failure.cause, failure.explanation
        except LivenessConfigurationError as error:
            step.status, step.cause, step.explanation = FAILED, CONFIGURATION, str(error)
        except BackendError as error:
            step.status = FAILED
            step.cause, step.explanation = self.explain(error, verify=step.name.endswith(KIND_NAMES[VERIFY]))
        finally:
            step.latency_ms = _ms_since(started)

    # --- steps -------------------------------------------------------------------------

    def configure(self):
        report = self.report
        report.backend = liveness_settings.BACKEND  # the whole LIVENESS setting is validated here
        backend_class = liveness_settings.backend_class
        options = dict(liveness_settings.OPTIONS)
        known = getattr(backend_class, "default_options", {})
        if "retry_total" in known:
            options["retry_total"] = 0
        if self.timeout is not None:
            options.update({name: self.timeout for name in ("connection_timeout", "read_timeout") if name in known})
        self.backend = backend = backend_class(**options)
        report.api_version = getattr(backend, "api_version", "") or ""
        endpoint = getattr(backend, "endpoint", "") or ""
        self.endpoint_source = _source(options, "endpoint", "VISION_ENDPOINT")
        self.key_source = _source(options, "key", "VISION_KEY")
        key = getattr(backend, "key", "") or ""
        report.endpoint = f"{endpoint} (from {self.endpoint_source})" if endpoint else "none"
        report.key = f"{_key_hint(key)} (from {self.key_source})" if key else "none"
        messages = backend.check()
        # What `check --deploy` fails on (a missing key) fails this check too.
        errors = [message for message in messages if message.level >= checks.ERROR or message.id in DEPLOY_ERRORS]
        report.notes = [message.msg for message in messages if message not in errors]
        if errors:
            raise _Failed(CONFIGURATION, " ".join(f"{message.msg} {message.hint or ''}".strip() for message in errors))
        if not endpoint:
            report.service = f"in process ({backend_class.__name__}): it never talks to Azure"
            return "no endpoint: nothing to connect to"
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _Failed(
                CONFIGURATION,
                f"The endpoint {endpoint!r} ({self.endpoint_source}) is not a URL: write it as "
                "https://<resource>.cognitiveservices.azure.com, as the resource's Keys and Endpoint page shows it.",
            )
        self.host = parts.hostname
        try:
            self.port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            problem = f"The endpoint {endpoint!r} ({self.endpoint_source}) has a port that is not a number."
            raise _Failed(CONFIGURATION, problem) from None
        emulator = getattr(backend, "uses_emulator", False)
        report.service = "the liveness emulator, not Azure" if emulator else "Azure AI Face"
        return f"{backend_class.__name__}, endpoint and key set"

    def resolve(self):
        if self.host is None:
            return "skipped: no endpoint"
        proxy = _proxy_for(self.backend.endpoint, self.host)
        if proxy:
            return f"through the proxy {proxy}, which resolves it"
        try:
            answers = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            raise _Failed(
                DOES_NOT_RESOLVE,
                f"The endpoint's host name {self.host} does not resolve ({error}): check the endpoint "
                f"({self.endpoint_source}), the resource name or the region in it. Copy it from the resource's "
                "Keys and Endpoint page in the Azure portal; a deleted resource's name stops resolving too.",
            ) from None
        addresses = list(dict.fromkeys(answer[4][0] for answer in answers))
        return f"{self.host} -> {', '.join(addresses[:3])}{' ...' if len(addresses) > 3 else ''}"

    def create(self, verify):
        create_fields = {
            "operation_mode": liveness_settings.OPERATION_MODE,
            "device_correlation_id": DEVICE_CORRELATION_ID,
            "auth_token_ttl_seconds": TOKEN_TTL_SECONDS,
        }
        if verify:
            created = self.backend.create_verify_session(reference_image=sample_reference_image(), **create_fields)
        else:
            created = self.backend.create_session(**create_fields)
        self.left_over.append((created.session_id, verify))
        detail = f"session {created.session_id}"
        if created.reference is not None:
            quality = created.reference.quality_for_recognition or "not rated"
            detail += f"; sample photo accepted, face quality: {quality}"
        return detail

    def delete(self, verify):
        session_id = next(session_id for session_id, kind in self.left_over if kind == verify)
        self.backend.delete_session(session_id, verify=verify)
        self.left_over.remove((session_id, verify))
        return f"session {session_id}"

    def read_settings(self):
        return face_resource.abuse_monitoring_state(self.backend)  # v1.3's GET /settings, or why not

    def close(self):
        """Try once more to delete what a failed deletion left, then close the backend's connections."""
        if self.backend is None:
            return
        for session_id, verify in self.left_over:
            step = next(step for step in self.report.steps if step.name == f"delete {KIND_NAMES[_kind(verify)]}")
            try:
                self.backend.delete_session(session_id, verify=verify)
                step.detail = f"session {session_id} deleted on a second try"
            except BackendError:
                step.detail = f"session {session_id} not deleted: its token stops working {TOKEN_TTL_SECONDS} s in"
        self.backend.close()

    # --- explanations ------------------------------------------------------------------

    def explain(self, error, *, verify):
        """(cause, explanation) of a BackendError, in an operator's words."""
        said = f" The service said: {error.message}" if error.message else ""
        where = f"the endpoint ({self.endpoint_source})"
        if isinstance(error, Throttled):
            wait = f"{error.retry_after} s" if error.retry_after is not None else "a minute"
            return THROTTLED, (
                f"Throttled: the Face service answered 429 Too Many Requests (Retry-After: {wait}). The resource's "
                "call rate is used up, by this app or another client of the same resource (the free F0 tier allows "
                f"only a few calls a minute). Run the check again after {wait}; if this happens under normal load, "
                f"move the resource to a higher pricing tier.{said}"
            )
        if isinstance(error, Unauthorized):
            return ACCESS_DENIED, self._access_denied(error, verify, where) + said
        if isinstance(error, SessionNotFound):
            return NOT_FOUND, (
                f"Not found (404): {where} does not serve Face API {self.report.api_version} liveness sessions. "
                "Check that it is the endpoint of a Face (or Azure AI services) resource with nothing after the host "
                "name (https://<resource>.cognitiveservices.azure.com), and that the resource's region offers Face "
                f"liveness in this API version (LIVENESS['OPTIONS']['api_version']).{said}"
            )
        if isinstance(error, ProviderUnavailable) and error.status is None:
            return UNREACHABLE, f"Unreachable: no answer from {self.host}:{self.port}: {self._network_failure(error)}"
        if isinstance(error, ProviderUnavailable):
            return SERVICE_FAILED, (
                f"The Face service failed ({error.status}): the fault is on Azure's side, not in the configuration. "
                "Run the check again in a few minutes; if it goes on, look at https://azure.status.microsoft/ and "
                f"the resource's Resource health page.{said}"
            )
        if isinstance(error, InvalidImage):
            return REFUSED, (
                f"The Face service refused the sample photo the check sends for the verify session ({error.status}). "
                f"The endpoint and key were accepted; please report this to django-liveness.{said}"
            )
        return REFUSED, f"The Face service refused the request ({error.status} {error.code}).{said}"

    def _access_denied(self, error, verify, where):
        key_works = any(step.ok and step.name == f"create {KIND_NAMES[LIVENESS]}" for step in self.report.steps)
        if verify and key_works:
            return (
                f"Access denied ({error.status}) to the liveness-with-verify session, although the key was accepted "
                "for a liveness session: the resource may lack Microsoft's approval for face verification (Face "
                "is a Limited Access service: https://aka.ms/facerecognition)."
            )
        if error.status == 403:
            return (
                "Access denied (403): the service refuses this resource the call. Face liveness is a Limited Access "
                "feature that needs Microsoft's approval for the subscription (https://aka.ms/facerecognition); a "
                "network rule of the resource (firewall, virtual network) may also block this machine, and a free "
                "(F0) resource is refused once its monthly quota is used up."
            )
        return (
            f"Access denied (401): the key is wrong, or it is the key of another resource than {where}. Azure "
            "gives the same answer to a key used at another region's endpoint. Check the key "
            f"({self.key_source}) and that the endpoint belongs to the same resource: both are on the resource's "
            "Keys and Endpoint page in the Azure portal."
        )

    def _network_failure(self, error):
        """Why no answer came, and what to check, from the errors the HTTP client chained below ``error``."""
        chain, stack = [], [error]
        while stack:
            item = stack.pop()
            if isinstance(item, BaseException) and all(item is not seen for seen in chain):
                chain.append(item)
                stack.extend([item.__cause__, item.__context__, getattr(item, "inner_exception", None)])
                stack.extend([getattr(item, "reason", None), *item.args])
        names = {type(item).__name__ for item in chain}
        where = f"the endpoint ({self.endpoint_source})"
        tls = next((item for item in chain if isinstance(item, ssl.SSLError)), None)
        if tls is not None or "SSLError" in names:
            return (
                f"the TLS handshake failed ({getattr(tls, 'reason', None) or 'SSL error'}). Check that {where} is "
                "the https:// address of the resource, and that no proxy or firewall in between intercepts TLS."
            )
        if any(isinstance(item, ConnectionRefusedError) for item in chain):
            return f"the connection was refused (nothing listens on that port). Check the host and port of {where}."
        if any(isinstance(item, TimeoutError) for item in chain) or names & TIMEOUT_ERRORS:
            options = getattr(self.backend, "options", {})
            limits = ", ".join(
                f"{name.replace('_', ' ')} {options[name]} s"
                for name in ("connection_timeout", "read_timeout")
                if name in options
            )
            return (
                f"it timed out{f' ({limits})' if limits else ''}. Check that a firewall, proxy or outbound rule "
                f"lets this machine reach {where}; on a slow network, try a longer --timeout."
            )
        if any(isinstance(item, ConnectionResetError) for item in chain) or "RemoteDisconnected" in names:
            return f"the connection was closed before an answer came. Check what lies between this machine and {where}."
        return f"the connection failed. Check {where} and this machine's outbound network (firewall, proxy)."


def _kind(verify):
    return VERIFY if verify else LIVENESS


def _ms_since(started):
    return round((time.perf_counter() - started) * 1000)


def _source(options, name, variable):
    return f"LIVENESS['OPTIONS'][{name!r}]" if options.get(name) else f"the {variable} environment variable"


def _key_hint(key):
    """That the key is set, and its length (a truncated paste shows): never any of its characters,
    which would end up in CI logs and support tickets."""
    return f"set ({len(key)} characters)"


def _proxy_for(url, host):
    """host:port of the proxy the HTTP client will go through to ``url`` (from the environment), or None."""
    proxies = urllib.request.getproxies()
    proxy = proxies.get(urlsplit(url).scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
