"""Portal pages of measures; included at the root next to clinic.web.urls."""

from django.urls import path

from measures import web

app_name = "measures"

urlpatterns = [
    path("me/questionnaires/<slug:instrument>/", web.questionnaire, name="questionnaire"),
    path("patients/<int:patient_id>/questionnaires/<slug:instrument>/", web.staff_questionnaire, name="staff-entry"),
]
