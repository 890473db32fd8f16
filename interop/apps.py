from django.apps import AppConfig


class InteropConfig(AppConfig):
    name = "interop"
    label = "interop"
    verbose_name = "Interoperability"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registered in every process, not only the worker: the outbox queues the delivery by name,
        # which resolves to the task (and runs inline under CELERY_TASK_ALWAYS_EAGER).
        from interop import tasks  # noqa: F401
