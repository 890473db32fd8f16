"""Portal pages of measures; included at the root next to web.urls."""

from django.urls import path

from web import measures as pages

app_name = "measures"

urlpatterns = [
    path("me/questionnaires/<slug:instrument>/", pages.questionnaire, name="questionnaire"),
    path("patients/<int:patient_id>/questionnaires/<slug:instrument>/", pages.staff_questionnaire, name="staff-entry"),
]
