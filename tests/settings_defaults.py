"""The test settings of a host configured as the README says: Django and DRF at their defaults.

No ``REST_FRAMEWORK`` setting at all (so DRF's own ``DEFAULT_SCHEMA_CLASS``, parsers and
authentication), and ``drf_spectacular`` not in ``INSTALLED_APPS``. ``make test`` runs the schema
and lifecycle tests with these too; a friendlier test project once hid a 500 every new host hit.
"""

from .settings import *  # noqa: F403

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "drf_spectacular"]  # noqa: F405
del REST_FRAMEWORK  # noqa: F821
