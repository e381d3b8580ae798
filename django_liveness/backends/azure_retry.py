"""The retry policy of AzureFaceBackend's SDK client (imported only once azure-core is there)."""

from azure.core.pipeline.policies import RetryPolicy


class CappedRetryPolicy(RetryPolicy):
    """azure-core's RetryPolicy, except that it never sleeps on a long ``Retry-After``.

    azure-core sleeps for the whole Retry-After (``retry_backoff_max`` does not cap it), so a 429
    with ``Retry-After: 60`` would hold a web request for minutes. Above ``max_retry_after``
    seconds the answer goes back to the caller at once, and the backend raises ``Throttled``.
    """

    def __init__(self, *, max_retry_after, **kwargs):
        super().__init__(**kwargs)
        self.max_retry_after = max_retry_after

    def is_retry(self, settings, response):
        retry_after = self.get_retry_after(response)
        if retry_after is not None and retry_after > self.max_retry_after:
            return False
        return super().is_retry(settings, response)
