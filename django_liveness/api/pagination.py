"""The API's lists: ``limit`` and ``offset``, read as strictly as the schema describes them."""

import math

from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

from ..db.counting import COUNT_CAP, capped_count


class Pagination(LimitOffsetPagination):
    """``limit`` (1 or more; above ``max_limit`` it reads as ``max_limit``) and ``offset`` (0 to
    ``MAX_OFFSET``): whole numbers or absent; anything else is a 400, not ignored, and never reaches
    the database (an offset past its 64-bit integers was a 500).

    Like the admin's lists, the count stops at ``COUNT_CAP`` rows (or at the row after the page
    asked for, if that is further), so a list of a huge table costs no full COUNT(*): a count that
    stopped says so with ``"count_capped": true``, and ``next`` stays there while rows exist.
    """

    default_limit = 50
    max_limit = 200
    COUNT_CAP = COUNT_CAP
    # Far past any table, and offset + limit + 1 (the count's cap) stays inside a signed 64-bit
    # integer, the largest LIMIT/OFFSET PostgreSQL and SQLite take.
    MAX_OFFSET = 10**18

    def get_count(self, queryset):
        reach = self.get_offset(self.request) + self.limit + 1
        counted, self.count_capped = capped_count(queryset, reach=reach, cap=self.COUNT_CAP)
        return counted

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        response.data["count_capped"] = self.count_capped
        return response

    def get_paginated_response_schema(self, schema):
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"]["count_capped"] = {
            "type": "boolean",
            "description": f"True when counting stopped: there are at least `count` rows (it stops at {self.COUNT_CAP:,}).",
        }
        return paginated

    def get_schema_operation_parameters(self, view):
        limit, offset = super().get_schema_operation_parameters(view)
        limit["schema"] = {"type": "integer", "minimum": 1}
        limit["description"] = (
            f"Number of results to return per page: {self.default_limit} by default; above {self.max_limit} "
            f"it reads as {self.max_limit}. 0, a negative number or not a whole number: 400."
        )
        offset["schema"] = {"type": "integer", "minimum": 0, "maximum": self.MAX_OFFSET}
        offset["description"] = "The initial index from which to return the results. Outside this range: 400."
        return [limit, offset]

    def get_limit(self, request):
        limit = self._whole_number(request, self.limit_query_param, minimum=1)
        return self.default_limit if limit is None else min(limit, self.max_limit)

    def get_offset(self, request):
        offset = self._whole_number(request, self.offset_query_param, minimum=0, maximum=self.MAX_OFFSET)
        return offset or 0

    @staticmethod
    def _whole_number(request, name, *, minimum, maximum=None):
        """The parameter as an int (``math.inf`` past 20 digits), None when absent, or a 400."""
        value = request.query_params.get(name)
        if value is None:
            return None
        whole = value.isascii() and value.isdigit()
        digits = value.lstrip("0") if whole else ""
        number = int(digits or "0") if len(digits) <= 20 else math.inf  # int() of thousands of digits raises
        if not whole or number < minimum:
            raise ValidationError(
                {name: [_("Must be a whole number of at least %(minimum)s.") % {"minimum": minimum}]}, code="invalid"
            )
        if maximum is not None and number > maximum:
            raise ValidationError({name: [_("Must be at most %(maximum)s.") % {"maximum": maximum}]}, code="max_value")
        return number
