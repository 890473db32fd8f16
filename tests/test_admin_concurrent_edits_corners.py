"""Corners of the admin's check for rows changed since a page was opened (clinic/admin_edits.py):
a login's last sign-in and password hash are not the page's edits; an inline row changed meanwhile
is not deleted unseen; a change committed while the page is drawn is fingerprinted as the page
showed it, not as stored; a role that sees fewer fields saves without undoing the hidden ones; a
forged fingerprint is refused; a nurse cannot delete an evaluation (a prescriber's record)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model

from clinic.admin_edits import FINGERPRINT_FIELD
from clinic.models import Chair, Role
from patients.admin import PatientAdmin
from patients.models import Patient, PatientFlag
from tests.api.conftest import frozen, world  # noqa: F401
from tests.scheduling.conftest import NOW  # the instant the world is frozen at
from tests.test_admin_concurrent_edits import _change_form_data, _open_change_page, _sign_in

User = get_user_model()


def _inline(response, model):
    return next(i for i in response.context["inline_admin_formsets"] if i.formset.model is model)


def _index_of(formset, pk) -> int:
    return next(n for n, form in enumerate(formset.forms) if form.instance.pk == pk)


# --- the user admin: a login meanwhile is not an edit -------------------------------------------


def test_user_admin_save_is_not_refused_because_the_user_logged_in_meanwhile(client, world):  # noqa: F811
    """Deactivating a login whose owner signs in while the page is open: last_login is
    bookkeeping the login writes, not something the administrator edits, so the save must go
    through (and must not write the old last_login back)."""
    _sign_in(client, Role.CLINIC_ADMIN)
    nurse = world.users["nurse"]
    url = f"/admin/auth/user/{nurse.pk}/change/"
    data = _change_form_data(client.get(url))
    signed_in_at = NOW + dt.timedelta(minutes=5)
    User.objects.filter(pk=nurse.pk).update(last_login=signed_in_at)  # the nurse signs in meanwhile
    data.pop("is_active", None)  # the administrator unticks "active"

    response = client.post(url, data)

    errors = response.context["adminform"].form.errors if response.status_code == 200 else None
    assert response.status_code == 302, errors
    nurse.refresh_from_db()
    assert nurse.is_active is False
    assert nurse.last_login == signed_in_at


def test_user_admin_save_is_not_refused_by_a_password_the_page_only_shows(client, world):  # noqa: F811
    """The password is shown read-only (a disabled field: the form takes its value from the row,
    never from the post), so it is not something the page edits: the user setting a new password
    while the administrator edits their name must not refuse the save, nor be undone by it."""
    _sign_in(client, Role.CLINIC_ADMIN)
    nurse = world.users["nurse"]
    url = f"/admin/auth/user/{nurse.pk}/change/"
    data = _change_form_data(client.get(url))
    fresh = User.objects.get(pk=nurse.pk)
    fresh.set_password("a-New-passphrase-set-meanwhile-7")
    fresh.save(update_fields=["password"])  # the nurse resets their password meanwhile
    data["first_name"] = "Renamed"

    response = client.post(url, data)

    errors = response.context["adminform"].form.errors if response.status_code == 200 else None
    assert response.status_code == 302, errors
    nurse.refresh_from_db()
    assert nurse.first_name == "Renamed"
    assert nurse.check_password("a-New-passphrase-set-meanwhile-7")


# --- inline rows ---------------------------------------------------------------------------------


def test_deleting_an_inline_row_someone_changed_meanwhile_is_refused(client, world):  # noqa: F811
    """The inline row is "refused when changed meanwhile": ticking Delete on a flag whose notes a
    colleague corrected after the page opened removes their correction unseen."""
    flag = world.flag_b
    patient = flag.patient
    _sign_in(client)  # a prescriber
    url = f"/admin/patients/patient/{patient.pk}/change/"
    got = client.get(url)
    data = _change_form_data(got)
    formset = _inline(got, PatientFlag).formset
    index = _index_of(formset, flag.pk)
    PatientFlag.objects.filter(pk=flag.pk).update(notes="Confirmed by psychiatry today")  # meanwhile
    data[f"{formset.prefix}-{index}-DELETE"] = "on"

    client.post(url, data)

    assert PatientFlag.objects.filter(pk=flag.pk).exists(), "a flag changed meanwhile was deleted unseen"


def test_the_changed_since_error_is_on_the_changed_row_and_the_field_error_on_its_own(client, world):  # noqa: F811
    site = world.site
    url, got, data = _open_change_page(client, site, Role.CLINIC_ADMIN)
    formset = _inline(got, Chair).formset
    first, second = formset.forms[0].instance, formset.forms[1].instance
    Chair.objects.filter(pk=first.pk).update(name="Renamed meanwhile")
    data[f"{formset.prefix}-1-name"] = ""  # an error of the user's own on another row

    response = client.post(url, data)

    assert response.status_code == 200
    posted = _inline(response, Chair).formset
    i_first, i_second = _index_of(posted, first.pk), _index_of(posted, second.pk)
    assert any("changed this chair" in e for e in posted.forms[i_first].non_field_errors())
    assert "name" in posted.forms[i_second].errors
    assert not posted.forms[i_second].non_field_errors()
    assert Chair.objects.get(pk=first.pk).name == "Renamed meanwhile"


def test_adding_an_inline_row_while_another_changed_saves_nothing_half_way(client, world):  # noqa: F811
    site = world.site
    url, got, data = _open_change_page(client, site, Role.CLINIC_ADMIN)
    formset = _inline(got, Chair).formset
    first = formset.forms[0].instance
    Chair.objects.filter(pk=first.pk).update(name="Renamed meanwhile")
    total = int(data[f"{formset.prefix}-TOTAL_FORMS"])
    data[f"{formset.prefix}-TOTAL_FORMS"] = str(total + 1)
    data[f"{formset.prefix}-{total}-name"] = "Brand new chair"
    data[f"{formset.prefix}-{total}-active"] = "on"
    data[f"{formset.prefix}-{total}-site"] = str(site.pk)
    data["name"] = site.name + " (renamed)"

    response = client.post(url, data)

    assert response.status_code == 200
    assert not Chair.objects.filter(name="Brand new chair").exists()
    site.refresh_from_db()
    assert not site.name.endswith("(renamed)")


# --- roles that see fewer fields -----------------------------------------------------------------


def test_front_desk_save_keeps_medications_a_clinician_changed_meanwhile(client, world):  # noqa: F811
    patient = world.appointment_b.patient
    _sign_in(client, Role.FRONT_DESK)
    url = f"/admin/patients/patient/{patient.pk}/change/"
    got = client.get(url)
    assert "medications" not in got.context["adminform"].form.fields
    data = _change_form_data(got)
    Patient.objects.filter(pk=patient.pk).update(medications="Changed meanwhile", seizure_history=True)
    data["escort_name"] = "Corrected Escort"

    response = client.post(url, data)

    assert response.status_code == 302
    patient.refresh_from_db()
    assert (patient.medications, patient.seizure_history, patient.escort_name) == (
        "Changed meanwhile",
        True,
        "Corrected Escort",
    )


def test_a_forged_shown_version_of_another_patient_is_refused(client, world):  # noqa: F811
    mine, other = world.appointment_b.patient, world.appointment_a.patient
    _sign_in(client)
    other_data = _change_form_data(client.get(f"/admin/patients/patient/{other.pk}/change/"))
    url = f"/admin/patients/patient/{mine.pk}/change/"
    data = _change_form_data(client.get(url))
    Patient.objects.filter(pk=mine.pk).update(reminder_consent=not mine.reminder_consent)
    data[FINGERPRINT_FIELD] = other_data[FINGERPRINT_FIELD]
    data["escort_name"] = "Forged"

    assert client.post(url, data).status_code == 200
    assert Patient.objects.get(pk=mine.pk).escort_name != "Forged"


# --- the fingerprint is taken later than the values shown -----------------------------------------


def test_a_change_committed_while_the_page_is_being_drawn_is_not_written_back(client, world, monkeypatch):  # noqa: F811
    """The page's values are read by get_object(); the fingerprint is computed from a fresh read
    when the template is rendered (after the view returned). A change committed in between is
    shown as the old value but fingerprinted as the new one, so saving the page as shown writes
    the old value back over it: the lost update the check exists to stop."""
    patient = world.appointment_b.patient
    _sign_in(client)
    url = f"/admin/patients/patient/{patient.pk}/change/"
    original = PatientAdmin.render_change_form

    def render_change_form(self, request, context, *args, **kwargs):
        if request.method == "GET":
            # Another request commits while this one is still building the page.
            Patient.objects.filter(pk=patient.pk).update(escort_name="Changed meanwhile")
        return original(self, request, context, *args, **kwargs)

    monkeypatch.setattr(PatientAdmin, "render_change_form", render_change_form)
    got = client.get(url)
    monkeypatch.setattr(PatientAdmin, "render_change_form", original)
    data = _change_form_data(got)
    assert data["escort_name"] != "Changed meanwhile"  # the page shows the value read before
    data["mobile_phone"] = "+12125550199"

    client.post(url, data)

    assert Patient.objects.get(pk=patient.pk).escort_name == "Changed meanwhile"


def test_a_nurse_cannot_delete_an_evaluation_from_the_patient_page(client, world):  # noqa: F811
    """Evaluations are a prescriber's to record or change (PrescriberRecordsMixin): a nurse sees the
    inline read-only, so its rows carry no fingerprint, and a Delete ticked on one is not checked."""
    from patients.models import Evaluation

    evaluation = world.evaluation_b
    patient = evaluation.patient
    url, got, data = _open_change_page(client, patient, Role.NURSE)
    formset = _inline(got, Evaluation).formset
    index = _index_of(formset, evaluation.pk)
    data[f"{formset.prefix}-{index}-DELETE"] = "on"

    client.post(url, data)

    assert Evaluation.objects.filter(pk=evaluation.pk).exists()
