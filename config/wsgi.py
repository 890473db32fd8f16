"""The WSGI application: gunicorn's in production (`config.wsgi:application`), runserver's in
`dev.py run` (WSGI_APPLICATION)."""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# What start-up loads (Django, the apps, and through the URLconf every view and serializer)
# lives as long as the process. Python's full garbage collection walks every tracked object, so
# on a loaded application it paused whichever request triggered it for 50-120 ms, several times
# a minute under load (bench/scheduling_engine.py --size 100000). Frozen, those objects are
# skipped: a full collection then walks only what requests made since start-up.
get_resolver().url_patterns  # noqa: B018 - loads the URLconf and the modules it names
gc.collect()
gc.freeze()
