from django.contrib import admin
from django.urls import include, path

from clinic import views

urlpatterns = [
    path("health/", views.health, name="health"),
    path("admin/", admin.site.urls),
    path("api/", include("clinic.api_urls")),
    path("fhir/R4/", include("interop.fhir.urls")),
    path("r/", include("scheduling.reminders.urls")),
    path("", views.home, name="home"),
    path("", include("clinic.web.auth_urls")),
    path("", include("measures.urls")),
    path("", include("clinic.web.urls")),
    path("", include("clinical.urls")),
]
