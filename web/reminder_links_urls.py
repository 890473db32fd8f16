"""Patient-facing links from reminders; included under "r/" by config.urls."""

from django.urls import path

from web import reminder_links as views

app_name = "reminders"

urlpatterns = [
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("cancel/<str:token>/", views.cancel, name="cancel"),
]
