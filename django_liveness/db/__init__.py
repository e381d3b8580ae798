"""What the models and the service layer need of the database beyond Django's own: transactions that
retry a write conflict (``transactions.atomic_with_retry``) or keep the files a write stored
(``atomic_writing``), the text field encrypted at rest (``encryption``), and row counts that stop
early for the admin's and the API's lists (``counting``). It imports nothing of
django_liveness but ``exceptions``.
"""
