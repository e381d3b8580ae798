"""The encrypted field moved to ``django_liveness.db.encryption``. This path stays, without a warning:
migration 0012 imports it, and a migration's imports are for good. New code imports the new path."""

from .common.deprecation import moved_to

moved_to(globals(), "django_liveness.db.encryption", warn=False)
