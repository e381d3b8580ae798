"""Deprecated: moved to ``django_liveness.observability.metrics.views``; this path warns and goes in the next release."""

from ..common.deprecation import moved_to

moved_to(globals(), "django_liveness.observability.metrics.views")
