"""The protocol of outbound webhooks (what a receiver sees): the part the service layer needs below it.

``events`` (event types, payload builders, JSON Schemas), ``signing`` (Standard Webhooks
signatures), ``guard`` (the address check against requests into the network) and ``transport``
(one POST to a checked address, never raising). No writes, no state: the outbox rows, the claims,
the retries and the endpoints' bookkeeping are services (``services.outbox``,
``services.webhook_delivery``, ``services.webhooks``), and ``django_liveness.webhooks`` is the
public facade over both. This package may import ``conf``, ``exceptions`` and the standard
library and third-party HTTP/signing packages, and reads model instances it is handed; it imports
nothing of ``services``, ``webhooks``, ``tasks`` or the edges (api, admin, capture, commands).
(Not "wire": in this app a wire module speaks a provider's JSON, and only ``backends`` may.)
"""
