"""Pages of the session record; included at the root by config.urls."""

from django.urls import path

from web import clinical as views
from web import cs_correction

app_name = "clinical"

urlpatterns = [
    path("sessions/<int:appointment_id>/record/", views.session, name="session"),
    path("controlled-substances/", views.controlled_substance_log, name="cs-log"),
    path(
        "controlled-substances/<int:entry_id>/correct/",
        cs_correction.controlled_substance_correct,
        name="cs-correct",
    ),
    path("controlled-substances.csv", views.controlled_substance_csv, name="cs-log-csv"),
]
