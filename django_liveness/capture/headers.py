"""The hosted capture page's security headers: never cached, never framed, no referrer, and a strict
Content-Security-Policy (docs/capture.md, "Content-Security-Policy"): scripts from this site (and the
web component's origin), connections to this site and the Face endpoint, the camera for the page
itself only. The page has no inline script: its config is a JSON data block that capture.js reads."""

from urllib.parse import urlsplit

from django.templatetags.static import static

from ..conf import liveness_settings


def security_headers(face):
    """The headers of every answer of the hosted page (the page, its refusals, its start); ``face`` is
    the page's Face config, or None where the page does not capture."""
    return {
        "Cache-Control": "no-store",  # the start's answer holds the session's auth token
        "Referrer-Policy": "no-referrer",  # and the page's address is a credential
        "X-Frame-Options": "DENY",  # for browsers that do not read frame-ancestors
        "X-Content-Type-Options": "nosniff",
        "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
        "Content-Security-Policy": content_security_policy(face),
    }


def content_security_policy(face):
    static_origin = _origin(static("django_liveness/capture.js"))  # a CDN's, when STATIC_URL is one
    component = (face or {}).get("web_component_script")
    component_origin = _origin(component) if component else None
    directives = {
        "default-src": ["'none'"],
        "script-src": ["'self'", static_origin, component_origin],
        "connect-src": ["'self'", _origin((face or {}).get("endpoint", "")), component_origin],
        "img-src": ["'self'", "data:", "blob:"],
        "media-src": ["'self'", "blob:", "mediastream:"],
        "style-src": ["'self'", static_origin, component_origin],
        "font-src": ["'self'", static_origin, component_origin],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'none'"],
    }
    if component:
        # Microsoft's component runs WebAssembly, in workers.
        directives["script-src"].append("'wasm-unsafe-eval'")
        directives["worker-src"] = ["'self'", "blob:", component_origin]
    for directive, sources in liveness_settings.CAPTURE["CSP_SOURCES"].items():
        directives.setdefault(directive, ["'self'"]).extend(sources)
    return "; ".join(
        " ".join([name, *dict.fromkeys(source for source in sources if source)]) for name, sources in directives.items()
    )


def _origin(url):
    """The origin of an absolute http(s) URL, or None for a path (covered by 'self')."""
    parts = urlsplit(url or "")
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None
