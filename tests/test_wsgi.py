"""The web process's start-up (config/wsgi.py): the loaded application is frozen out of the
garbage collector's full collections, the URLconf included."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import gc, sys
before = gc.get_freeze_count()
import config.wsgi
print(before, gc.get_freeze_count(), "config.urls" in sys.modules and "web.booking" in sys.modules)
"""


def test_wsgi_start_up_freezes_the_loaded_application_for_the_collector():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    before, after, views_loaded = result.stdout.split()
    assert int(before) == 0
    # Django, the apps and the views: tens of thousands of objects, none left for full collections.
    assert int(after) > 50_000
    assert views_loaded == "True"
