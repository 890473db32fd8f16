"""The Celery application. Tasks are thin: they take ids and call a service."""

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("clinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def freeze_before_the_pool_forks(**kwargs: object) -> None:
    """The worker's parent sends worker_init once the loader has set Django up and imported the
    task modules, and before the prefork pool forks its children: frozen now, the loaded
    application is skipped by every child's full garbage collections, as in the web workers
    (config/startup.py). The URLconf comes too: reminder links reverse() it in the tasks."""
    # Imported here, when a worker starts: config/__init__.py imports this module, so every
    # process importing the settings would load django.urls otherwise.
    from config.startup import freeze_loaded_application

    freeze_loaded_application()
