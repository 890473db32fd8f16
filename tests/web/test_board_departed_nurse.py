"""The day board's nurse bands and nurse load against the staff the engine counts."""

from __future__ import annotations

from clinic.models import StaffMember
from tests.web.conftest import START, login


def test_a_deactivated_nurse_is_not_shown_on_shift_nor_counted_in_the_nurse_load(web, client):
    """A nurse who has left (StaffMember.active=False) keeps her rostered shifts in the table. The
    engine (selectors.site_snapshot: `st.active`) and the API's day board (`active=True`) no longer
    count her, but the page's board (desk._nurse_shifts) still draws "Nurse on shift" for her and
    counts her in the nurse load, so the desk sees the sessions covered when no nurse is there."""
    nurse = web.nurse
    StaffMember.objects.filter(pk=nurse.pk).update(active=False)
    login(client, web.desk.user)

    response = client.get(f"/board/?site={web.clinic.site.pk}&day={START.isoformat()}")

    assert response.status_code == 200
    grid = response.context["grid"]
    shown = [band.obj.staff_id for band in grid.bands if band.items[0].kind == "shift"]
    assert nurse.pk not in shown
    busy_hours = [hour for hour in grid.load if hour["sessions"]]
    assert busy_hours
    assert all(hour["nurses"] == 0 and hour["over"] for hour in busy_hours), busy_hours
