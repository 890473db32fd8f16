"""The reminder links mounted where clinic.urls will mount them ("r/"), for
tests that must not depend on the project urlconf."""

from django.urls import include, path

urlpatterns = [path("r/", include("scheduling.reminders.urls"))]
