# One image for web (gunicorn), the Celery worker, Celery beat and the one-shot migrate step.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/data

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Static files are built into the image; the key below exists only for this build step.
RUN DJANGO_SECRET_KEY=collectstatic-build-only DJANGO_DEBUG=false python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 --home-dir /app clinic \
    && mkdir -p /data \
    && chown clinic /data

USER clinic
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
