"""The address a request came from, as LIVENESS["BIND_CLIENT_IP"] binds a session to it.

By default ``REMOTE_ADDR``: the peer of the connection, which behind a reverse proxy or a load
balancer is the proxy. A host behind proxies sets ``LIVENESS["CLIENT_IP_RESOLVER"]`` to a function
``f(request) -> str`` that reads the header its own proxy sets, trusting only as many hops as it has
(``X-Forwarded-For`` is written by the client first: its left end is whatever the client chose).
"""

from ..conf import liveness_settings


def address_to_bind(request):
    """The request's client address when LIVENESS["BIND_CLIENT_IP"] is on (a string, possibly not an
    address: services.abuse checks it), else None (nothing is read)."""
    if not liveness_settings.BIND_CLIENT_IP:
        return None
    resolver = liveness_settings.client_ip_resolver
    value = resolver(request) if resolver is not None else request.META.get("REMOTE_ADDR", "")
    return value if isinstance(value, str) else ""
