"""The audit trail in the admin: liveness events, read-only."""

from django.contrib import admin

from ..models import LivenessEvent
from .mixins import CappedCountMixin


@admin.register(LivenessEvent)
class LivenessEventAdmin(CappedCountMixin, admin.ModelAdmin):
    list_display = ["created_at", "kind", "session", "subject", "actor", "from_status", "to_status", "message"]
    list_filter = ["kind", "created_at"]
    list_select_related = ["session", "subject", "actor"]
    search_fields = ["=session__id", "subject__external_id", "message"]
    fields = ["created_at", "kind", "session", "subject", "actor", "from_status", "to_status", "message", "data"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
