"""The project's urlconf plus the measures portal pages, as config/urls.py will have them
once `path("", include("web.measures_urls"))` is added there (see the measures report)."""

from django.urls import include, path

from config.urls import urlpatterns as clinic_urlpatterns

urlpatterns = [path("", include("web.measures_urls")), *clinic_urlpatterns]
