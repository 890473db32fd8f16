"""Issue 20 #19: the PHQ-9 chart on the clinician's chart plots in the site's zone. A score
answered at 21:00 on 3 April in New York (01:00 on 4 April in UTC) reads 3 April on the axis,
on the point and in the table alike."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.http import HttpRequest
from django.urls import reverse

from tests.factories import PASSWORD
from tests.measures.conftest import phq9

pytestmark = pytest.mark.urls("tests.measures.urls")
NEW_YORK = ZoneInfo("America/New_York")


def test_a_late_evening_score_is_plotted_on_its_local_day(client, world):
    assert world.clinic.site.time_zone == "America/New_York"
    world.record(world.patient_a, "phq9", phq9(20), dt.datetime(2026, 4, 1, 12, tzinfo=NEW_YORK))
    world.record(world.patient_a, "phq9", phq9(9), dt.datetime(2026, 4, 3, 21, tzinfo=NEW_YORK))
    user = world.user("prescriber")
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)
    page = client.get(reverse("web:patient", args=[world.patient_a.pk])).content.decode()
    block = page.split('data-testid="measure-phq9"')[1].split("</svg>")[0]
    labels = re.findall(r'<text class="measure__text"[^>]*>(\d{1,2} \w{3})</text>', block)
    assert labels == ["1 Apr", "3 Apr"]
    assert "9 on 3 Apr 2026" in block and "4 Apr" not in block
    assert "from 1 Apr 2026 to 3 Apr 2026" in block


def test_a_single_late_evening_score_is_drawn_on_its_own_local_day_not_the_next(client, world):
    # 21:00 in New York is already the next day in UTC; the axis must not read 2 or 4 April.
    world.record(world.patient_a, "phq9", phq9(12), dt.datetime(2026, 4, 3, 21, tzinfo=NEW_YORK))
    user = world.user("prescriber")
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)
    page = client.get(reverse("web:patient", args=[world.patient_a.pk])).content.decode()
    block = page.split('data-testid="measure-phq9"')[1].split("</svg>")[0]
    labels = re.findall(r'<text class="measure__text"[^>]*>(\d{1,2} \w{3})</text>', block)
    assert labels == ["3 Apr"]
    assert "4 Apr" not in block and "2 Apr" not in block
    # The point sits at 21:00 of the day the axis spans: seven eighths of the way across.
    left, right = (float(v) for v in re.search(r'x1="(\d+)" x2="(\d+)" y1="(\d+)" y2="\3"', block).groups()[:2])
    x = float(re.search(r'data-testid="measure-point" cx="([\d.]+)"', block).group(1))
    assert abs((x - left) / (right - left) - 21 / 24) < 0.01
