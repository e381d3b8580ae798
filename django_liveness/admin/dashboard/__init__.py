"""The admin dashboard (docs/operations.md#dashboard), an admin view beside the ModelAdmins that
link to it: the figures (``stats``: a few aggregate queries), the SVG chart geometry (``charts``)
and the page (``views``, mounted by the session admin's ``get_urls()``). It reads models (and the
reviewed outcome's filter) and writes nothing.
"""
