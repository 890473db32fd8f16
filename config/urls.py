from django.contrib import admin
from django.urls import include, path

from web import views

urlpatterns = [
    path("health/", views.health, name="health"),
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("fhir/R4/", include("interop.fhir.urls")),
    path("r/", include("web.reminder_links_urls")),
    path("", views.home, name="home"),
    path("", include("web.auth_urls")),
    path("", include("web.measures_urls")),
    path("", include("web.urls")),
    path("", include("web.clinical_urls")),
]
