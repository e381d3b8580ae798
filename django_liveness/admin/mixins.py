"""Behaviour the package's ModelAdmins share: a change list that counts at most 10,000 rows, the
package's styles and scripts, and actions that ask "are you sure?" first."""

from django.conf import settings
from django.contrib.admin.views.main import PAGE_VAR
from django.core.paginator import Paginator
from django.template.response import TemplateResponse
from django.utils.functional import cached_property

from ..db.counting import COUNT_CAP, capped_count


class AtLeast(int):
    """A row count that stopped counting early: the admin shows it as "10000+"."""

    def __str__(self):
        # With USE_THOUSAND_SEPARATOR, templates regroup the characters of str(): a "+" would be mangled.
        return str(int(self)) if settings.USE_THOUSAND_SEPARATOR else f"{int(self)}+"


class CappedCountPaginator(Paginator):
    """Counts at most ``CAP`` rows, so a huge table pages without a full COUNT(*).

    The count stops at ``CAP`` or at the end of the page after ``page_number``, whichever is
    further, so the next page is always reachable while rows exist: one COUNT a page, bounded by
    the page asked for, not by the table.
    """

    CAP = COUNT_CAP
    page_number = 1  # set from ``?p=`` by CappedCountMixin

    @cached_property
    def count(self):
        counted, capped = capped_count(self.object_list, reach=(self.page_number + 1) * self.per_page, cap=self.CAP)
        return AtLeast(counted) if capped else counted


class CappedCountMixin:
    paginator = CappedCountPaginator
    show_full_result_count = False  # no COUNT(*) of the whole table either

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        paginator = super().get_paginator(request, queryset, per_page, orphans, allow_empty_first_page)
        try:
            paginator.page_number = int(request.GET.get(PAGE_VAR, 1))
        except ValueError:
            pass  # the change list falls back to page 1 too
        return paginator


class LivenessMedia:
    """The package's admin styles, and the script that shows a reference image when staff ask for it."""

    class Media:
        css = {"all": ["admin/django_liveness/liveness.css"]}
        js = ["admin/django_liveness/reveal_image.js"]


class ConfirmActionMixin:
    """Admin actions that ask "are you sure?" on a page of their own before they act."""

    def confirmation(self, request, queryset, *, action, title, question, objects):
        """The confirmation page, or None once the user confirmed (then act)."""
        if request.POST.get("confirmed") == "yes":
            return None
        return TemplateResponse(
            request,
            "admin/django_liveness/confirm_action.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "question": question,
                "objects": objects,
                "queryset": queryset,
                "action": action,
                "opts": self.model._meta,
            },
        )
