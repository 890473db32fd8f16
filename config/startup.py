"""What a long-lived process does once it has loaded the application (the web process in
config/wsgi.py, the Celery worker's parent in config/celery.py)."""

import gc

from django.urls import get_resolver


def freeze_loaded_application() -> None:
    """Load the URLconf, then freeze everything loaded so far out of full garbage collections.

    What start-up loads (Django, the apps, and through the URLconf every view and serializer)
    lives as long as the process. Python's full garbage collection walks every tracked object, so
    on a loaded application it paused whichever request triggered it for 50-120 ms, several times
    a minute under load (bench/scheduling_engine.py --size 100000). Frozen, those objects are
    skipped: a full collection then walks only what was made since start-up. Called before a fork,
    it also spares the children's collections the pages they share with the parent."""
    get_resolver().url_patterns  # noqa: B018 - loads the URLconf and the modules it names
    gc.collect()
    gc.freeze()
