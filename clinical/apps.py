from django.apps import AppConfig


class ClinicalConfig(AppConfig):
    name = "clinical"
    verbose_name = "Clinical session record"
