"""The hosted capture page (docs/capture.md): a page the app opens in a browser or a WebView
instead of embedding Microsoft's capture SDK itself.

This package owns the page and its start (``views``), the signed credentials it runs on (``links``:
the one-time link, the browser cookie, the page token, the return URL rule), the words it shows
(``messages``) and its security headers (``headers``); the templates and the script are under
``templates/django_liveness/capture/`` and ``static/django_liveness/capture/``. What the page changes
goes through the service layer (``services.capture``); it may import services, models, conf and
exceptions, never ``api``. The API sits above it: it hands out the link (``capture_url`` in a
session's answer) and answers the page's own calls (``api/hosted.py``) with its serializers and
rate limits, so the page's JSON is the API's.
"""
