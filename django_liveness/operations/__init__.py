"""What an operator runs to know the installation is right: the system checks of ``manage.py check``
(``checks``, registered in ``AppConfig.ready()``, with their stable ids) and the end-to-end
configuration check behind ``manage.py liveness_check`` (``config_check``: a real session created
and deleted at the provider, timed). It may import conf, exceptions, backends and common; nothing
imports it but the app config, the command and ``config_check`` itself.
"""
