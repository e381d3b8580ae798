"""The ``LIVENESS`` setting, read through ``liveness_settings``.

Attribute access returns the user's value or the default. The whole dict is validated once
(then cached) and re-read whenever Django's ``setting_changed`` fires, so ``override_settings``
works in tests.
"""

import ipaddress

from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from .exceptions import LivenessConfigurationError

OPERATION_MODES = ("Passive", "PassiveActive")

DEFAULTS = {
    # Dotted path of the provider backend class, and its keyword options.
    "BACKEND": "django_liveness.backends.azure.AzureFaceBackend",
    "OPTIONS": {},
    # matchConfidence a liveness-with-verify session needs to count as the same person.
    "VERIFY_CONFIDENCE_THRESHOLD": 0.6,
    # Half-width of a grey zone around that threshold: a matchConfidence inside it goes to review
    # instead of passing or failing by a hair (0 turns it off).
    "VERIFY_REVIEW_BAND": 0.05,
    # Refuse verify sessions with a reference image the service rated "low" for recognition.
    "REQUIRE_REFERENCE_QUALITY": False,
    # Lifetime of the session auth token handed to the frontend (Face API allows 60..86400).
    "AUTH_TOKEN_TTL_SECONDS": 600,
    "OPERATION_MODE": "Passive",
    # Captures the person may try within one session (numberOfClientAttemptsAllowed, 1..3):
    # Face API v1.3-preview.1 only; older versions fix it themselves, so more than 1 is refused there.
    "CLIENT_ATTEMPTS": 1,
    # Bind each liveness session the REST API starts to the requester's address
    # (expectedClientIpAddress): the service then refuses a capture from elsewhere. Face API
    # v1.3-preview.1 only (another version refuses it at startup); never the hosted link's sessions'
    # other device. See docs/settings.md.
    "BIND_CLIENT_IP": False,
    # Dotted path of f(request) -> str, the client's address behind your proxies; None: REMOTE_ADDR.
    "CLIENT_IP_RESOLVER": None,
    # Delete the session at the provider as soon as its result is stored locally.
    "DELETE_REMOTE_SESSION_ON_RESULT": True,
    # Key of settings.STORAGES that holds reference images (keep it private).
    "REFERENCE_IMAGE_STORAGE": "default",
    # Ask the provider to keep each session's captured image and store it here as review evidence:
    # "verify" (liveness-with-verify sessions only), True (every session) or False.
    "STORE_SESSION_IMAGE": "verify",
    # complete/ enqueues the result fetch as a task and answers 202 (with a task backend in TASKS).
    "COMPLETE_IN_BACKGROUND": False,
    # At most one result fetch per session within this many seconds, however many complete/ (REST
    # API, hosted page, admin refresh) come in: the ones in between answer the stored state. 0: no limit.
    "COMPLETE_MIN_INTERVAL_SECONDS": 5,
    # Refuse uploads and sessions for a subject without valid consent.
    "REQUIRE_CONSENT": True,
    # Days to keep data; None keeps it forever. See docs/privacy.md for why these defaults.
    "RETENTION": {
        "REFERENCE_IMAGE_DAYS": 365,
        "RESULT_PAYLOAD_DAYS": 30,
        "SESSION_IMAGE_DAYS": 90,
        "SESSION_DAYS": 1095,
        # Webhook deliveries that were delivered or given up (pending ones are kept).
        "WEBHOOK_DELIVERY_DAYS": 30,
    },
    # REST API throttle rates (DRF syntax "N/period"); None disables one.
    "THROTTLE_RATES": {
        "session_create_user": "30/hour",
        "session_create_subject": "10/hour",
        "upload_user": "30/hour",
        "upload_subject": "10/hour",
        # complete/ that made a provider call: per user (REST API), per session (the hosted page).
        "complete_user": "120/hour",
        "complete_session": "30/hour",
        # Reports from the frontend (client-events/), per session.
        "client_event_session": "30/hour",
    },
    # The sync of sessions nobody completed (liveness_sync, the sync task): sessions claimed per
    # batch, provider calls at once per process, and how long a claim holds before another worker
    # may take the session (a worker that died).
    "SYNC": {
        "BATCH_SIZE": 100,
        "CONCURRENCY": 8,
        "LEASE_SECONDS": 300,
    },
    # The hosted capture page (docs/capture.md): how long its one-time link stays valid, the hosts a
    # return_url may point to (a path on this site is always allowed), the URL of Microsoft's
    # web capture component's script once the host has installed it (None: the emulator's test
    # capture), and sources added to its Content-Security-Policy ({"connect-src": ["https://..."]}).
    "CAPTURE": {
        "LINK_TTL_SECONDS": 600,
        "RETURN_URL_HOSTS": [],
        "WEB_COMPONENT_SCRIPT": None,
        "CSP_SOURCES": {},
    },
    # Signed outbound webhooks (docs/webhooks.md): plain http only for development; hosts or
    # addresses (or networks, "10.0.0.0/8") exempt from the refusal of loopback, private,
    # link-local and metadata addresses; the timeout of one delivery attempt.
    "WEBHOOKS": {
        "ALLOW_HTTP": False,
        "ALLOWED_PRIVATE_HOSTS": [],
        "TIMEOUT_SECONDS": 10,
    },
    # Lock a subject out of new sessions after FAILURES failed checks (spoof, different person) within
    # WINDOW_SECONDS, for LOCK_SECONDS (docs/settings.md); None disables the lockout.
    "LOCKOUT": {
        "FAILURES": 5,
        "WINDOW_SECONDS": 900,
        "LOCK_SECONDS": 3600,
    },
    # Prometheus metrics (docs/operations.md): the bearer token a scraper sends to the metrics view
    # (None: only staff with the view permission may read it).
    "METRICS": {
        "TOKEN": None,
    },
    # OpenTelemetry spans of the service operations and provider calls, when opentelemetry-api is installed.
    "TRACING": True,
    # How long an Idempotency-Key is remembered.
    "IDEMPOTENCY_KEY_TTL_SECONDS": 24 * 3600,
    # Subscription key the mounted emulator accepts (test mode only; never a real Azure key).
    "EMULATOR_KEY": "emulator-key",
}

# The hosted page's CSP directives that CAPTURE["CSP_SOURCES"] may add sources to (capture_headers.py).
CSP_EXTENSIBLE_DIRECTIVES = ("script-src", "connect-src", "img-src", "media-src", "style-src", "font-src", "worker-src")
DICT_SETTINGS = ("OPTIONS", "RETENTION", "THROTTLE_RATES", "SYNC", "CAPTURE", "WEBHOOKS", "LOCKOUT", "METRICS")


def _is_drf_rate(rate):
    """True when DRF's own throttle parser reads ``rate`` ('10/hour', '5/m' ...), as it will per request."""
    from rest_framework.throttling import SimpleRateThrottle

    if not isinstance(rate, str):
        return False
    try:
        number, _duration = SimpleRateThrottle.parse_rate(None, rate)  # it reads nothing from self
    except (ValueError, KeyError, IndexError, TypeError):
        return False
    return number >= 0


def _fail(key, problem):
    raise LivenessConfigurationError(f"LIVENESS[{key!r}] {problem}")


def _check_positive_int_or_none(key, value):
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        _fail(key, f"must be a whole number of days >= 1 or None, got {value!r}.")


def unknown_keys(user_settings):
    """The keys of the ``LIVENESS`` dict ``user_settings`` that are not settings, sorted."""
    return sorted(set(user_settings) - set(DEFAULTS))


def validate(user_settings):
    """Return the effective settings for ``user_settings`` or raise LivenessConfigurationError."""
    if not isinstance(user_settings, dict):
        raise LivenessConfigurationError(
            f"settings.LIVENESS must be a dict, got {type(user_settings).__name__}."
        )
    unknown = unknown_keys(user_settings)
    if unknown:
        _fail(unknown[0], f"is not a known setting. Known settings: {', '.join(DEFAULTS)}.")
    merged = {}
    for key, default in DEFAULTS.items():
        value = user_settings.get(key, default)
        if key == "LOCKOUT" and value is None:
            merged[key] = None
            continue
        if key in DICT_SETTINGS and key != "OPTIONS":
            if not isinstance(value, dict):
                _fail(key, f"must be a dict, got {value!r}.")
            unknown_sub = sorted(set(value) - set(default))
            if unknown_sub:
                _fail(key, f"has an unknown key {unknown_sub[0]!r}; known: {', '.join(default)}.")
            value = {**default, **value}
        merged[key] = value

    if not isinstance(merged["BACKEND"], str) or not merged["BACKEND"]:
        _fail("BACKEND", "must be the dotted path of a backend class.")
    if not isinstance(merged["OPTIONS"], dict):
        _fail("OPTIONS", f"must be a dict, got {merged['OPTIONS']!r}.")
    threshold = merged["VERIFY_CONFIDENCE_THRESHOLD"]
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        _fail("VERIFY_CONFIDENCE_THRESHOLD", f"must be a number between 0 and 1, got {threshold!r}.")
    band = merged["VERIFY_REVIEW_BAND"]
    if isinstance(band, bool) or not isinstance(band, (int, float)) or not 0 <= band <= 0.5:
        _fail("VERIFY_REVIEW_BAND", f"must be a number from 0 to 0.5, got {band!r}.")
    ttl = merged["AUTH_TOKEN_TTL_SECONDS"]
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 60 <= ttl <= 86400:
        _fail("AUTH_TOKEN_TTL_SECONDS", f"must be an integer from 60 to 86400 (Face API limits), got {ttl!r}.")
    attempts = merged["CLIENT_ATTEMPTS"]
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 3:
        _fail("CLIENT_ATTEMPTS", f"must be a whole number from 1 to 3 (Face API limits), got {attempts!r}.")
    resolver = merged["CLIENT_IP_RESOLVER"]
    if resolver is not None and (not isinstance(resolver, str) or "." not in resolver):
        _fail("CLIENT_IP_RESOLVER", f"must be None or the dotted path of a function f(request) -> str, got {resolver!r}.")
    if merged["OPERATION_MODE"] not in OPERATION_MODES:
        _fail("OPERATION_MODE", f"must be one of {', '.join(OPERATION_MODES)}, got {merged['OPERATION_MODE']!r}.")
    for key in (
        "DELETE_REMOTE_SESSION_ON_RESULT",
        "REQUIRE_CONSENT",
        "COMPLETE_IN_BACKGROUND",
        "REQUIRE_REFERENCE_QUALITY",
        "TRACING",
        "BIND_CLIENT_IP",
    ):
        if not isinstance(merged[key], bool):
            _fail(key, f"must be True or False, got {merged[key]!r}.")
    if not (isinstance(merged["STORE_SESSION_IMAGE"], bool) or merged["STORE_SESSION_IMAGE"] == "verify"):
        _fail("STORE_SESSION_IMAGE", f"must be 'verify', True or False, got {merged['STORE_SESSION_IMAGE']!r}.")
    storage = merged["REFERENCE_IMAGE_STORAGE"]
    storages = getattr(django_settings, "STORAGES", {}) or {}
    if not isinstance(storage, str) or storage not in storages:
        _fail("REFERENCE_IMAGE_STORAGE", f"must be a key of settings.STORAGES ({', '.join(storages)}), got {storage!r}.")
    for sub_key, days in merged["RETENTION"].items():
        _check_positive_int_or_none(f"RETENTION'][{sub_key!r}", days)
    for sub_key, number in merged["SYNC"].items():
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            _fail(f"SYNC'][{sub_key!r}", f"must be a whole number of at least 1, got {number!r}.")
    for scope, rate in merged["THROTTLE_RATES"].items():
        if rate is not None and not _is_drf_rate(rate):
            _fail(f"THROTTLE_RATES'][{scope!r}", f"must be a DRF rate like '10/hour' or None, got {rate!r}.")
    for sub_key, number in (merged["LOCKOUT"] or {}).items():
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            _fail(f"LOCKOUT'][{sub_key!r}", f"must be a whole number of at least 1, got {number!r}.")
    _validate_capture(merged["CAPTURE"])
    _validate_webhooks(merged["WEBHOOKS"])
    token = merged["METRICS"]["TOKEN"]
    if token is not None and (not isinstance(token, str) or len(token) < 16):
        _fail("METRICS']['TOKEN", "must be None or a string of at least 16 characters (a random secret).")
    if not isinstance(merged["EMULATOR_KEY"], str) or not merged["EMULATOR_KEY"]:
        _fail("EMULATOR_KEY", "must be a non-empty string.")
    interval = merged["COMPLETE_MIN_INTERVAL_SECONDS"]
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not 0 <= interval <= 300:
        _fail("COMPLETE_MIN_INTERVAL_SECONDS", f"must be a number of seconds from 0 to 300, got {interval!r}.")
    ttl = merged["IDEMPOTENCY_KEY_TTL_SECONDS"]
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 1:
        _fail("IDEMPOTENCY_KEY_TTL_SECONDS", f"must be a positive number of seconds, got {ttl!r}.")
    return merged


def _validate_capture(capture):
    ttl = capture["LINK_TTL_SECONDS"]
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 30 <= ttl <= 86400:
        _fail("CAPTURE']['LINK_TTL_SECONDS", f"must be a number of seconds from 30 to 86400, got {ttl!r}.")
    hosts = capture["RETURN_URL_HOSTS"]
    if not isinstance(hosts, (list, tuple)) or not all(isinstance(host, str) and host for host in hosts):
        _fail("CAPTURE']['RETURN_URL_HOSTS", f"must be a list of host names, got {hosts!r}.")
    script = capture["WEB_COMPONENT_SCRIPT"]
    if script is not None and (not isinstance(script, str) or not script):
        _fail("CAPTURE']['WEB_COMPONENT_SCRIPT", f"must be the URL of a script or None, got {script!r}.")
    sources = capture["CSP_SOURCES"]
    if not isinstance(sources, dict) or not all(
        directive in CSP_EXTENSIBLE_DIRECTIVES
        and isinstance(values, (list, tuple))
        and all(isinstance(value, str) and value and not set(value) & set(" ;,\r\n") for value in values)
        for directive, values in sources.items()
    ):
        _fail(
            "CAPTURE']['CSP_SOURCES",
            f"must map directives of {', '.join(CSP_EXTENSIBLE_DIRECTIVES)} to lists of sources "
            f"(\"https://face.example.com\", \"'unsafe-eval'\"), got {sources!r}.",
        )


def _validate_webhooks(webhooks):
    if not isinstance(webhooks["ALLOW_HTTP"], bool):
        _fail("WEBHOOKS']['ALLOW_HTTP'", f"must be True or False, got {webhooks['ALLOW_HTTP']!r}.")
    hosts = webhooks["ALLOWED_PRIVATE_HOSTS"]
    if not isinstance(hosts, (list, tuple)) or not all(isinstance(host, str) and host for host in hosts):
        _fail("WEBHOOKS']['ALLOWED_PRIVATE_HOSTS'", f"must be a list of host names, addresses or networks, got {hosts!r}.")
    for host in hosts:
        if "/" in host:
            try:
                ipaddress.ip_network(host, strict=False)
            except ValueError:
                _fail("WEBHOOKS']['ALLOWED_PRIVATE_HOSTS'", f"has {host!r}, which is not a network like '10.0.0.0/8'.")
    timeout = webhooks["TIMEOUT_SECONDS"]
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 60:
        _fail("WEBHOOKS']['TIMEOUT_SECONDS'", f"must be a number of seconds above 0 and at most 60, got {timeout!r}.")


class LivenessSettings:
    """``liveness_settings.VERIFY_CONFIDENCE_THRESHOLD`` and so on."""

    def __init__(self):
        self._cache = None

    def _effective(self):
        if self._cache is None:
            self._cache = validate(getattr(django_settings, "LIVENESS", {}))
        return self._cache

    def __getattr__(self, name):
        if name.startswith("_") or name not in DEFAULTS:
            raise AttributeError(name)
        return self._effective()[name]

    @property
    def backend_class(self):
        path = self.BACKEND
        try:
            return import_string(path)
        except ImportError as exc:
            raise LivenessConfigurationError(
                f"LIVENESS['BACKEND'] = {path!r} could not be imported: {exc}"
            ) from exc

    @property
    def client_ip_resolver(self):
        """The function that reads a request's client address (CLIENT_IP_RESOLVER), or None for REMOTE_ADDR."""
        path = self.CLIENT_IP_RESOLVER
        if path is None:
            return None
        try:
            resolver = import_string(path)
        except ImportError as exc:
            raise LivenessConfigurationError(f"LIVENESS['CLIENT_IP_RESOLVER'] = {path!r} could not be imported: {exc}") from exc
        if not callable(resolver):
            raise LivenessConfigurationError(f"LIVENESS['CLIENT_IP_RESOLVER'] = {path!r} is not a function f(request) -> str.")
        return resolver

    def reload(self):
        # The memoized backend resets itself on the same signal (django_liveness.backends).
        self._cache = None


liveness_settings = LivenessSettings()


@receiver(setting_changed)
def _reload_on_change(*, setting, **kwargs):
    if setting in ("LIVENESS", "STORAGES"):
        liveness_settings.reload()
