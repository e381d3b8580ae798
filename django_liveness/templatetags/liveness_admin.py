"""Template tags of the app's own admin pages (dashboard, confirmations)."""

import django
from django import template

register = template.Library()


@register.inclusion_tag("admin/django_liveness/breadcrumbs.html")
def liveness_breadcrumbs(opts, title):
    """Home › app › model list › ``title``, in the markup the running admin styles: Django 6 styles
    an ordered list (``ol.breadcrumbs``) and no longer the ``div`` of Django 5.2 and older."""
    return {"opts": opts, "title": title, "as_list": django.VERSION >= (6, 0)}
