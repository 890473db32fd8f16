"""Pages of the session record; included at the root by config.urls."""

from django.urls import path

from web import clinical as views

app_name = "clinical"

urlpatterns = [
    path("sessions/<int:appointment_id>/record/", views.session, name="session"),
    path("controlled-substances/", views.controlled_substance_log, name="cs-log"),
    path("controlled-substances.csv", views.controlled_substance_csv, name="cs-log-csv"),
]
