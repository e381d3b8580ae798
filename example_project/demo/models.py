from django.conf import settings
from django.db import models


class Profile(models.Model):
    """What the host project keeps about its own user: here, whether KYC is done."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="demo_profile")
    identity_verified_at = models.DateTimeField(null=True, blank=True)
    verified_by_session = models.UUIDField(null=True, blank=True)

    def __str__(self):
        return f"{self.user} verified at {self.identity_verified_at}"
