"""Pages for people (the API lives elsewhere); included at the root by clinic.urls."""

from django.urls import path

from clinic.web import chart, desk, portal

app_name = "web"

urlpatterns = [
    path("board/", desk.board, name="board"),
    path("week/", desk.week, name="week"),
    path("patients/", desk.patient_search, name="patient-search"),
    path("patients/<int:patient_id>/", chart.patient_chart, name="patient"),
    path("plans/<int:plan_id>/book/", desk.book_course, name="book-course"),
    path("plans/<int:plan_id>/adjust/", chart.plan_adjust, name="plan-adjust"),
    path(
        "appointments/<int:appointment_id>/<slug:action>/", desk.appointment_action, name="appointment-action"
    ),
    path("me/sessions/<int:appointment_id>/session.ics", portal.appointment_download, name="portal-ics"),
    path("me/sessions/<int:appointment_id>/<slug:action>/", portal.portal_action, name="portal-action"),
    path("me/reminders/", portal.preferences, name="portal-preferences"),
    path("calendar/<str:token>.ics", portal.calendar_feed, name="calendar-feed"),
    path("me/calendar/<slug:action>/", portal.calendar_feed_change, name="portal-calendar"),
]
