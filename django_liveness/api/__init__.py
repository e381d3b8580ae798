"""The REST API: ``path("api/liveness/", include("django_liveness.urls"))``. See docs/api.md.

This package owns authentication, permissions, input validation and the HTTP shapes of the API
(``views``, ``serializers``, ``permissions``, ``throttling``, ``idempotency``, ``errors``, ``schema``)
and of the hosted capture page's calls (``hosted``). Every change goes through the service layer;
it may import services, models, conf, exceptions, images and ``capture.links`` (the link it hands
out), never the admin.
"""
