from django.urls import path, re_path

from interop.fhir.operations import BookView, FindView, HoldView
from interop.fhir.views import CatchAllView, InstanceView, MetadataView, TypeView, VersionView

_TYPE = r"(?P<resource_type>[A-Z][A-Za-z]{1,40})"
_ID = r"(?P<resource_id>[A-Za-z0-9\-.]{1,64})"
_VID = r"(?P<version_id>[A-Za-z0-9\-.]{1,64})"

urlpatterns = [
    path("metadata", MetadataView.as_view(), name="fhir-metadata"),
    path("Appointment/$find", FindView.as_view(), name="fhir-find"),
    path("Appointment/$hold", HoldView.as_view(), name="fhir-hold"),
    path("Appointment/$book", BookView.as_view(), name="fhir-book"),
    re_path(rf"^{_TYPE}$", TypeView.as_view(), name="fhir-type"),
    re_path(rf"^{_TYPE}/{_ID}$", InstanceView.as_view(), name="fhir-instance"),
    re_path(rf"^{_TYPE}/{_ID}/_history/{_VID}$", VersionView.as_view(), name="fhir-version"),
    re_path(r"^.*$", CatchAllView.as_view(), name="fhir-unknown"),
]
