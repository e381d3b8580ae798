"""Requests at once: the tests of real concurrency share this."""

import threading

from django.db import connection


def in_threads(count, call):
    """Run ``call()`` in ``count`` threads released together by a barrier; return their answers
    (in the order they finished). Each thread closes its own database connection."""
    answers, barrier = [], threading.Barrier(count)

    def run():
        try:
            barrier.wait()
            answers.append(call())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers
