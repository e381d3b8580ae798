"""Reference images in the admin, and the permission-checked views that stream biometric images.

An image leaves storage only through ``stream_image``: private, uncached, and logged as a view of
biometric data by the service layer.
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.urls import path
from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

from .. import services
from ..images import FORMATS
from ..models import ReferenceImage
from .filters import DuplicatePhotoFilter
from .html import face_box_text, image_with_face
from .mixins import LivenessMedia


def may_see_images(user):
    """Who may see a reference image may see the capture it was compared with, and nobody else."""
    return user.has_perms(["django_liveness.view_referenceimage", "django_liveness.view_livenesssession"])


def stored_size(file):
    """(width, height) of a stored image, read from its header (no pixels), or None if unreadable."""
    try:
        with file.open("rb") as stored, Image.open(stored) as image:
            return image.size
    except (OSError, ValueError, UnidentifiedImageError):
        return None


@admin.register(ReferenceImage)
class ReferenceImageAdmin(LivenessMedia, admin.ModelAdmin):
    list_display = ["id", "subject", "content_type", "width", "height", "is_active", "quality_for_recognition", "created_at"]
    list_filter = ["is_active", "content_type", "quality_for_recognition", DuplicatePhotoFilter]
    list_select_related = ["subject"]
    search_fields = ["subject__external_id", "sha256"]
    fields = ["preview", "subject", "content_type", "size", "width", "height", "sha256", "is_active", "face_box", "quality_for_recognition", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # nothing here is editable: a save would only write back a stale copy

    def delete_model(self, request, image):
        services.delete_reference_image(image, actor=request.user)  # an event, and the file gone from storage

    def delete_queryset(self, request, queryset):
        for image in queryset.select_related("subject"):
            self.delete_model(request, image)

    @admin.display(description=_("image"))
    def preview(self, image):
        return image_with_face(image, image.face_rectangle)

    @admin.display(description=_("face rectangle"))
    def face_box(self, image):
        return face_box_text(image.face_rectangle)

    def get_urls(self):
        view = self.admin_site.admin_view(self.file_view)
        return [path("<uuid:pk>/file/", view, name="django_liveness_referenceimage_file"), *super().get_urls()]

    def file_view(self, request, pk):
        """Stream the image from storage to staff allowed to see it, and log that they did."""
        if not request.user.has_perm("django_liveness.view_referenceimage"):
            raise PermissionDenied
        image = ReferenceImage.objects.select_related("subject").filter(pk=pk).first()
        return stream_image(
            image.file if image else None,
            content_type=image.content_type if image else "",
            name=pk,
            record=lambda: services.record_image_view(image, actor=request.user),
        )


def content_type_of(name):
    return next((content_type for content_type, extension in FORMATS.values() if name.endswith(extension)), "")


def stream_image(file, *, content_type, name, record):
    """A private, uncached response streaming ``file`` (a FieldFile, or None: 404); ``record()`` logs the view."""
    # Object storages open lazily and would fail mid-stream: ask first whether the file is there.
    if not file or not file.storage.exists(file.name):
        raise Http404
    try:
        opened = file.open("rb")
    except FileNotFoundError:  # deleted since
        raise Http404 from None
    record()
    response = FileResponse(opened, content_type=content_type or "application/octet-stream")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response
