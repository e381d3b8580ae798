"""The API's OpenAPI schema, served and annotated so that it works in a host that keeps DRF's
defaults (no ``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]``).

drf-spectacular builds an annotated method's schema on DRF's default schema class, which is DRF's
own ``AutoSchema`` in such a host: the schema endpoint was then a 500. ``extend_schema`` here
builds on drf-spectacular's ``AutoSchema`` instead.
"""

import inspect

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema as spectacular_extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework.renderers import JSONRenderer

from .errors import ErrorFormatMixin


class SchemaView(ErrorFormatMixin, SpectacularAPIView):
    """The schema (YAML, or JSON with ``?format=json``); its errors in the API's JSON format."""

    def perform_content_negotiation(self, request, force=False):
        if force:  # rendering an error (say, an unknown ?format=): JSON, like every other error
            return JSONRenderer(), JSONRenderer.media_type
        return super().perform_content_negotiation(request, force)


NO_NUL = "^[^\\x00]*$"


def request_rules(result, generator, request, public):
    """Postprocessing hook: what the request bodies' generated schemas leave out: rules across fields, and
    bounds that DRF's fields do not report."""
    schemas = result.get("components", {}).get("schemas", {})
    if "SessionCreateRequest" in schemas:
        # The frontend sets the device correlation id, or the server sends one: not both (a 400).
        schemas["SessionCreateRequest"]["not"] = {
            "required": ["device_correlation_id", "device_correlation_id_set_in_client"],
            "properties": {"device_correlation_id_set_in_client": {"enum": [True]}},
        }
    for name, component in schemas.items():
        if name.endswith("Request"):  # DRF refuses a NUL in any string (400 `null_characters_not_allowed`)
            for field in component.get("properties", {}).values():
                if field.get("type") == "string" and not {"format", "enum", "pattern"} & set(field):
                    field["pattern"] = NO_NUL
    if "ReferenceImageUploadRequest" in schemas:
        # An empty file is refused (400 `empty`): the schema says a file has at least one byte.
        schemas["ReferenceImageUploadRequest"]["properties"]["image"]["minLength"] = 1
    return result


def extend_schema(**kwargs):
    decorate = spectacular_extend_schema(**kwargs)

    def apply(target):
        if inspect.isclass(target) or getattr(target, "kwargs", {}).get("schema"):
            return decorate(target)  # a view class has its own schema; a second annotation builds on the first
        target.schema = AutoSchema  # the base drf-spectacular reads first
        try:
            return decorate(target)
        finally:
            del target.schema

    return apply
