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
# What a request leaves behind is freed by reference counting (300 level proposals left no
# garbage for the collector to find), so a full collection finds nothing and only pauses the
# request that triggers it, by up to 10 ms at 100k appointments. Python considers one every 10
# collections of the middle generation: one proposal in 15. Every 100 makes it one in ~200
# (bench/scheduling_engine.py; docs/benchmarks.md); the young generations are left as they are.
gc.set_threshold(*gc.get_threshold()[:2], 100)
