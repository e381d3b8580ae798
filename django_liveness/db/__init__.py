"""What the models and the service layer need of the database beyond Django's own: transactions that
retry a write conflict (``transactions.atomic_with_retry``) or keep the files a write stored
(``atomic_writing``), and the text field encrypted at rest (``encryption``). It imports nothing of
django_liveness but ``exceptions``.
"""
