"""The project's urlconf: messages link to the reminder pages (/r/) and the questionnaire."""

from config.urls import urlpatterns

__all__ = ["urlpatterns"]
