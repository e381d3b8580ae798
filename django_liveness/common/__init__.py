"""Small helpers that every layer may use, each with one job: the cost a request has spent
(``costly_work``, read by the rate limits), the browser and OS family of a User-Agent
(``client_platform``), the Tasks framework of the running Django (``tasks_framework``), and the
re-export of a module that moved (``deprecation``). They import nothing of django_liveness, so that
importing one never pulls a layer in.
"""
