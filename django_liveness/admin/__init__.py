"""The admin screens where staff see, judge and act on liveness decisions, one module per job:
``sessions`` (the review queue and session page), ``subjects``, ``images`` (reference images and
the logged image views), ``events``, ``webhooks``, with the shared ``mixins``, ``filters`` and
``html`` builders beside them. Everything the provider produced is read-only, sessions are never
added by hand, the auth token is never shown, and images are served only by permission-checked
views that record who looked. The package reads models and calls the service layer
(``django_liveness.services``, privacy and webhook endpoints included) for every change: it never writes a model
itself (tests/test_integrity.py walks it). Importing it registers the ModelAdmins, in this order.
"""

from .events import LivenessEventAdmin
from .filters import DuplicatePhotoFilter, LockedFilter, OutcomeFilter, ReviewQueueFilter, SubjectFilter
from .html import face_box_text, html_table, image_with_face, outcome_summary, revealed_image
from .images import ReferenceImageAdmin, may_see_images, stream_image
from .mixins import AtLeast, CappedCountMixin, CappedCountPaginator, ConfirmActionMixin, LivenessMedia
from .sessions import LivenessSessionAdmin, ReviewForm
from .subjects import ConsentInline, ReferenceImageInline, SubjectAdmin
from .webhooks import WebhookDeliveryAdmin, WebhookEndpointAdmin, WebhookEndpointForm

__all__ = [
    "AtLeast",
    "CappedCountMixin",
    "CappedCountPaginator",
    "ConfirmActionMixin",
    "ConsentInline",
    "DuplicatePhotoFilter",
    "LivenessEventAdmin",
    "LivenessMedia",
    "LivenessSessionAdmin",
    "LockedFilter",
    "OutcomeFilter",
    "ReferenceImageAdmin",
    "ReferenceImageInline",
    "ReviewForm",
    "ReviewQueueFilter",
    "SubjectAdmin",
    "SubjectFilter",
    "WebhookDeliveryAdmin",
    "WebhookEndpointAdmin",
    "WebhookEndpointForm",
    "face_box_text",
    "html_table",
    "image_with_face",
    "may_see_images",
    "outcome_summary",
    "revealed_image",
    "stream_image",
]
