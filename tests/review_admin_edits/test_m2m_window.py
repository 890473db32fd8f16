"""The docstring of clinic/admin_edits.py: "nothing slips in between the check and the save". The
row lock does not cover a many-to-many field's link rows: a link removed by another transaction
after the check (clean()) and before the admin writes the links (save_m2m) is written back."""

from __future__ import annotations

import threading

import pytest
from django.db import connections
from django.test import Client

from clinic.admin import StaffMemberAdmin
from clinic.models import Role, StaffMember
from tests.factories import SiteFactory, StaffFactory
from tests.test_admin_concurrent_edits import _change_form_data, _sign_in


@pytest.mark.django_db(transaction=True)
def test_a_site_link_removed_after_the_check_is_not_written_back(monkeypatch):
    one, two = SiteFactory(), SiteFactory()
    nurse = StaffFactory(role=Role.NURSE, sites=[one, two])
    client = Client()
    _sign_in(client, Role.CLINIC_ADMIN)
    url = f"/admin/clinic/staffmember/{nurse.pk}/change/"
    data = _change_form_data(client.get(url))

    original = StaffMemberAdmin.save_model

    def save_model(self, request, obj, form, change):
        # Another request, committed while this one is between its check and its save.
        def remove():
            try:
                StaffMember.objects.get(pk=nurse.pk).sites.remove(two)
            finally:
                connections.close_all()

        worker = threading.Thread(target=remove)
        worker.start()
        worker.join(timeout=10)
        assert not worker.is_alive(), "the removal was blocked by the admin's lock"
        original(self, request, obj, form, change)

    monkeypatch.setattr(StaffMemberAdmin, "save_model", save_model)
    response = client.post(url, data)

    assert response.status_code in (200, 302)
    assert set(StaffMember.objects.get(pk=nurse.pk).sites.all()) == {one}
