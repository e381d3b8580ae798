"""Row counts that stop early: the admin's change lists and the API's lists count a huge table
without a full COUNT(*)."""

COUNT_CAP = 10_000


def capped_count(queryset, *, reach, cap=COUNT_CAP):
    """Count the rows of ``queryset`` up to ``cap``, or up to ``reach`` (the row a page needs to know
    exists, so that the next page stays reachable) when that is further: one bounded COUNT.

    Return ``(count, capped)``; ``capped`` says counting stopped: there are at least ``count`` rows."""
    limit = max(cap, reach)
    counted = queryset.order_by()[:limit].count()
    return counted, counted == limit
