"""Face API v1.2-preview.1 through the ``azure-ai-vision-face`` SDK (1.0.0b2, preview only).

Kept for hosts that pin the preview. Returns the service's JSON as dicts; ``preview_wire``
turns it into the contract's types.
"""

from .. import __version__
from ..exceptions import LivenessConfigurationError
from .azure_transport import call, retry_policy

API_VERSION = "v1.2-preview.1"


def _import_sdk():
    try:
        from azure.ai.vision.face import FaceSessionClient, models
        from azure.core.credentials import AzureKeyCredential
    except ImportError as error:
        raise LivenessConfigurationError(
            'AzureFaceBackend needs the Azure SDK: pip install "django-liveness[azure]" '
            f"(could not import it: {error})."
        ) from error
    return FaceSessionClient, models, AzureKeyCredential


class PreviewClient:
    def __init__(self, *, endpoint, key, options):
        FaceSessionClient, self._models, AzureKeyCredential = _import_sdk()
        self._endpoint = endpoint
        self._client = FaceSessionClient(
            endpoint=endpoint,
            credential=AzureKeyCredential(key),
            api_version=API_VERSION,
            connection_timeout=options["connection_timeout"],
            read_timeout=options["read_timeout"],
            retry_policy=retry_policy(options),
            user_agent=f"django-liveness/{__version__}",
        )

    def close(self):
        self._client.close()

    def create_session(self, body):
        return call(self._endpoint, self._client.create_liveness_session, body).as_dict()

    def create_verify_session(self, fields, reference_image):
        # SDK 1.0.0b2 sends the multipart create only for this model class, not for a dict.
        content = self._models.CreateLivenessWithVerifySessionContent(
            liveness_operation_mode=fields["livenessOperationMode"],
            device_correlation_id=fields.get("deviceCorrelationId"),
            device_correlation_id_set_in_client=fields.get("deviceCorrelationIdSetInClient"),
            auth_token_time_to_live_in_seconds=fields["authTokenTimeToLiveInSeconds"],
            enable_session_image=fields.get("enableSessionImage"),
        )
        create = self._client.create_liveness_with_verify_session
        return call(self._endpoint, create, content, verify_image=reference_image).as_dict()

    def get_session(self, session_id, *, verify):
        client = self._client
        get = client.get_liveness_with_verify_session_result if verify else client.get_liveness_session_result
        return call(self._endpoint, get, session_id).as_dict()

    def delete_session(self, session_id, *, verify):
        client = self._client
        delete = client.delete_liveness_with_verify_session if verify else client.delete_liveness_session
        call(self._endpoint, delete, session_id)

    def list_audit_entries(self, session_id, *, verify):
        client = self._client
        audit = client.get_liveness_with_verify_session_audit_entries if verify else client.get_liveness_session_audit_entries
        return [entry.as_dict() for entry in call(self._endpoint, audit, session_id)]

    def list_sessions(self, *, verify, start, top):
        client = self._client
        list_page = client.get_liveness_with_verify_sessions if verify else client.get_liveness_sessions
        return [item.as_dict() for item in call(self._endpoint, list_page, start=start, top=top)]

    def get_session_image(self, session_image_id):
        return b"".join(call(self._endpoint, self._client.get_session_image, session_image_id))
