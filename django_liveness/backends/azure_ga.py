"""Face API v1.2 (GA) and v1.3-preview.1 over HTTP, on azure-core's ``PipelineClient`` (imported only when used).

No SDK speaks GA liveness, so this module sends the requests the spec describes: JSON for a
liveness session, flat multipart fields with a ``verifyImage`` file for one with verify. It
returns the service's JSON (or bytes); ``ga_wire`` turns it into the contract's types.
v1.3-preview.1 has the same paths and bodies, so the same client speaks it: the version is in the path.
"""

from .. import __version__
from .azure_transport import call, import_azure_core, pipeline_policies, transport

PATHS = {False: "detectLiveness-sessions", True: "detectLivenessWithVerify-sessions"}


class GaClient:
    def __init__(self, *, endpoint, key, options):
        import_azure_core()
        self._endpoint = endpoint
        from azure.core import PipelineClient

        self._client = PipelineClient(
            base_url=f"{endpoint}/face/{options['api_version']}",
            policies=pipeline_policies(key=key, options=options, user_agent=f"django-liveness/{__version__}"),
            transport=transport(options),
        )

    def close(self):
        self._client.close()

    def _send(self, method, path, **kwargs):
        from azure.core.rest import HttpRequest

        request = HttpRequest(method, self._client.format_url(path), **kwargs)
        return call(self._endpoint, self._client.send_request, request)

    def create_session(self, body):
        return self._send("POST", PATHS[False], json=body).json()

    def create_verify_session(self, fields, reference_image):
        # Form fields are text: booleans as "true"/"false", numbers as written.
        data = {name: str(value).lower() if isinstance(value, bool) else str(value) for name, value in fields.items()}
        files = {"verifyImage": ("verify-image", reference_image, "application/octet-stream")}
        return self._send("POST", PATHS[True], data=data, files=files).json()

    def get_session(self, session_id, *, verify):
        return self._send("GET", f"{PATHS[verify]}/{session_id}").json()

    def delete_session(self, session_id, *, verify):
        self._send("DELETE", f"{PATHS[verify]}/{session_id}")

    def get_session_image(self, session_image_id):
        return self._send("GET", f"sessionImages/{session_image_id}").read()

    # v1.3-preview.1: the resource's liveness settings (the older versions answer 404).

    def get_settings(self):
        return self._send("GET", "settings").json()

    def patch_settings(self, body):
        return self._send("PATCH", "settings", json=body).json()

    def get_client_assets_token(self):
        return self._send("GET", "settings/getClientAssetsAccessToken").json()
