"""The WSGI application: gunicorn's in production (`config.wsgi:application`), runserver's in
`dev.py run` (WSGI_APPLICATION)."""

import os

from django.core.wsgi import get_wsgi_application

from config.startup import freeze_loaded_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Full garbage collections in the web workers walk only request garbage (config/startup.py).
freeze_loaded_application()
