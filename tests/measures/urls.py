"""The project's urlconf plus the measures portal pages, as clinic/urls.py will have them
once `path("", include("measures.urls"))` is added there (see the measures report)."""

from django.urls import include, path

from clinic.urls import urlpatterns as clinic_urlpatterns

urlpatterns = [path("", include("measures.urls")), *clinic_urlpatterns]
