"""Validate emulator responses against the Face API's own OpenAPI (Swagger 2.0) description."""

import json
import re
from functools import lru_cache
from pathlib import Path

import jsonschema

SPEC_NAMES = {
    "v1.2": "face-v1.2-liveness.openapi.json",
    "v1.2-preview.1": "face-v1.2-preview.1-liveness.openapi.json",
    "v1.3-preview.1": "face-v1.3-preview.1-liveness.openapi.json",
}
# v1.1-preview.1 has no description here; its liveness operations are the v1.2-preview.1 ones.
SPEC_NAMES["v1.1-preview.1"] = SPEC_NAMES["v1.2-preview.1"]
SPEC_NAME = SPEC_NAMES["v1.2-preview.1"]
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def spec_dir():
    """../shared/azure-face-api next to the checkout (as CI lays it out), else /work/shared."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here.parent / "shared" / "azure-face-api", Path("/work/shared/azure-face-api")):
        if (candidate / SPEC_NAME).exists():
            return candidate
    raise FileNotFoundError(f"{SPEC_NAME} not found next to the checkout (../shared/azure-face-api/).")


# v1.3-preview.1 types these properties as "object" (no properties); its own examples send a boolean
# or an integer, and so does the service: validate them as the examples have them.
AS_THE_EXAMPLES_HAVE_IT = {
    "isAbuseMonitoringEnabled": {"type": "boolean"},
    "isAbuseDetected": {"type": "boolean"},
    "enabled": {"type": "boolean"},
    "numberOfClientAttemptsAllowed": {"type": "integer", "minimum": 1, "maximum": 3},
}


@lru_cache(maxsize=None)
def spec(version="v1.2-preview.1"):
    document = json.loads((spec_dir() / SPEC_NAMES[version]).read_text())
    for definition in document["definitions"].values():
        for name, schema in (definition.get("properties") or {}).items():
            if name in AS_THE_EXAMPLES_HAVE_IT and schema.get("type") == "object" and "properties" not in schema:
                definition["properties"][name] = {**schema, **AS_THE_EXAMPLES_HAVE_IT[name]}
    return document


def _template_regex(template):
    return re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "/?$", re.IGNORECASE)


def _schema_for(version, method, path, status):
    """The response schema the spec gives, or None for the client call (not in the spec)."""
    for template, operations in spec(version)["paths"].items():
        if _template_regex(template).match(path) and method.lower() in operations:
            responses = operations[method.lower()]["responses"]
            response = responses.get(str(status)) or responses["default"]
            return response.get("schema")
    if re.match(r"^/detectLiveness(WithVerify)?/singleModal/?$", path, re.IGNORECASE):
        # sendResultsToClient: "Default is false, clients will receive a '204 - NoContent' empty body response."
        # GA has no such switch, and no description of the client's body: 204 or an error.
        if status == 204:
            return None
        if status == 200 and version in ("v1.2-preview.1", "v1.1-preview.1"):
            return {"$ref": "#/definitions/LivenessResponseBody"}
        assert status >= 400, f"{version} {method} {path} answered {status}"
        return {"$ref": "#/definitions/FaceErrorResponse"}
    # Not an operation of this version: only an error answer (404, 405) is right, in the service's shape.
    assert status >= 400, f"{method} {path} is not an operation of the {version} spec, yet answered {status}"
    return {"$ref": "#/definitions/FaceErrorResponse"}


def _check_dates(value, where):
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith("DateTime"):
                assert DATE_TIME.match(item), f"{where}.{key} = {item!r} is not an RFC 3339 date-time"
            _check_dates(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_dates(item, f"{where}[{index}]")


def validate_exchange(version, method, path, status, headers, body):
    """Assert that one emulator response matches the version's spec (path relative to /face/{version})."""
    schema = _schema_for(version, method, path, status)
    if status >= 400:
        assert headers.get("x-ms-error-code"), f"{method} {path} {status} has no x-ms-error-code header"
    content_type = headers.get("content-type", "")
    if schema is None:
        assert body == b"" and not content_type, f"{method} {path} {status} should have no body and no content type"
        return
    if schema.get("type") == "file":
        assert content_type == "application/octet-stream", f"{method} {path} {status} is {content_type!r}"
        return
    assert content_type.startswith("application/json"), f"{method} {path} {status} is {content_type!r}"
    document = json.loads(body)
    jsonschema.Draft4Validator({**schema, "definitions": spec(version)["definitions"]}).validate(document)
    _check_dates(document, "body")


class RecordingApp:
    """WSGI middleware that keeps every (method, path, status, headers, body) the app answered."""

    def __init__(self, app, prefix):
        self.app = app
        self.prefix = prefix
        self.exchanges = []
        self.requests = []  # (method, path, user agent, has a subscription key) of every call

    def __call__(self, environ, start_response):
        seen = {}
        self.requests.append(
            (
                environ["REQUEST_METHOD"],
                environ["PATH_INFO"],
                environ.get("HTTP_USER_AGENT", ""),
                bool(environ.get("HTTP_OCP_APIM_SUBSCRIPTION_KEY")),
            )
        )

        def recording_start_response(status, headers, exc_info=None):
            seen["status"], seen["headers"] = int(status.split()[0]), {k.lower(): v for k, v in headers}
            return start_response(status, headers, exc_info)

        result = self.app(environ, recording_start_response)
        if getattr(result, "drop_connection", False):
            return result  # not an answer: the server drops the connection
        body = b"".join(result)
        if hasattr(result, "close"):
            result.close()
        path = environ["PATH_INFO"]
        match = re.match(rf"^{self.prefix}/face/([^/]+)(/.*)$", path)
        if match and match.group(1).lower() in SPEC_NAMES and environ["REQUEST_METHOD"] != "OPTIONS":
            version, operation = match.group(1).lower(), match.group(2)
            self.exchanges.append((version, environ["REQUEST_METHOD"], operation, seen["status"], seen["headers"], body))
        return [body]

    def validate_all(self):
        for exchange in self.exchanges:
            validate_exchange(*exchange)
        return len(self.exchanges)
