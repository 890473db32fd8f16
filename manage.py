#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # manage.py is the developer's entry point: debug unless told otherwise, so a bare
    # `python manage.py makemigrations` works on a fresh checkout. Production (compose, the
    # Dockerfile) sets DJANGO_DEBUG=false explicitly and then a secret key is required;
    # the web server loads config.wsgi, which keeps the strict default.
    os.environ.setdefault("DJANGO_DEBUG", "true")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
