"""What the app reports as it runs, each an optional extra imported lazily so that a host without it
pays nothing: Prometheus metrics (``metrics``: recorded from the signals and the provider calls, and
the view a host mounts) and OpenTelemetry spans (``tracing``). It sits below the backends and the
service layer, which call it, and imports only conf, signals, exceptions and (for the scrape-time
gauges) models.
"""
