"""Scoring against worked examples, band boundaries and malformed answers (no database)."""

from __future__ import annotations

import pytest

from measures.scoring import SELF_HARM_FLAG, ScoringError, score

PHQ9_BANDS = [
    (0, "minimal"),
    (4, "minimal"),
    (5, "mild"),
    (9, "mild"),
    (10, "moderate"),
    (14, "moderate"),
    (15, "moderately_severe"),
    (19, "moderately_severe"),
    (20, "severe"),
    (27, "severe"),
]
GAD7_BANDS = [
    (0, "minimal"),
    (4, "minimal"),
    (5, "mild"),
    (9, "mild"),
    (10, "moderate"),
    (14, "moderate"),
    (15, "severe"),
    (21, "severe"),
]
PCL5_BANDS = [
    (0, "below_cutoff"),
    (31, "below_cutoff"),
    (32, "below_cutoff"),
    (33, "probable_ptsd"),
    (80, "probable_ptsd"),
]
PAIN_BANDS = [(0, "none"), (1, "mild"), (3, "mild"), (4, "moderate"), (6, "moderate"), (7, "severe"), (10, "severe")]


def spread(total: int, items: int, top: int) -> list[int]:
    """`items` answers, none above `top`, adding up to `total` (item 9 of PHQ-9 kept at 0 when possible)."""
    answers = [0] * items
    for index in range(items):
        answers[index] = min(top, total)
        total -= answers[index]
    assert total == 0
    return answers


def test_phq9_worked_example():
    # Several days (1) on items 1–4, more than half the days (2) on 5–6, nearly every day (3) on 7, none on 8–9.
    result = score("phq9", [1, 1, 1, 1, 2, 2, 3, 0, 0])
    assert (result.total, result.band.code, result.band.label, result.flags) == (11, "moderate", "Moderate", ())


@pytest.mark.parametrize(("total", "band"), PHQ9_BANDS)
def test_phq9_band_boundaries(total, band):
    assert score("phq9", spread(total, 9, 3)).band.code == band


def test_phq9_item_9_above_zero_is_flagged_even_with_a_low_total():
    result = score("phq9", [0, 0, 0, 0, 0, 0, 0, 0, 1])
    assert result.total == 1 and result.band.code == "minimal"
    assert result.flags == (SELF_HARM_FLAG,)


def test_phq9_maximum_is_27_and_severe():
    result = score("phq9", [3] * 9)
    assert (result.total, result.band.code, result.flags) == (27, "severe", (SELF_HARM_FLAG,))


def test_gad7_worked_example():
    result = score("gad7", [2, 2, 1, 1, 2, 1, 1])
    assert (result.total, result.band.code) == (10, "moderate")


@pytest.mark.parametrize(("total", "band"), GAD7_BANDS)
def test_gad7_band_boundaries(total, band):
    assert score("gad7", spread(total, 7, 3)).band.code == band


@pytest.mark.parametrize(("total", "band"), PCL5_BANDS)
def test_pcl5_uses_33_as_probable_ptsd_cutoff(total, band):
    assert score("pcl5", spread(total, 20, 4)).band.code == band


def test_pcl5_worked_example():
    answers = [2] * 10 + [1] * 10  # 20 + 10
    result = score("pcl5", answers)
    assert (result.total, result.band.label) == (30, "Below PTSD cutoff")


@pytest.mark.parametrize(("rating", "band"), PAIN_BANDS)
def test_pain_bands(rating, band):
    result = score("pain", [rating])
    assert (result.total, result.band.code) == (rating, band)


@pytest.mark.parametrize(
    ("instrument", "answers", "message"),
    [
        ("phq9", [0] * 8, "PHQ-9 has 9 items; 8 answers given."),
        ("phq9", [0] * 10, "PHQ-9 has 9 items; 10 answers given."),
        ("phq9", [0] * 8 + [4], "PHQ-9 item 9: 4 is outside 0–3."),
        ("gad7", [0] * 6, "GAD-7 has 7 items; 6 answers given."),
        ("gad7", [0, 0, -1, 0, 0, 0, 0], "GAD-7 item 3: -1 is outside 0–3."),
        ("pcl5", [0] * 19, "PCL-5 has 20 items; 19 answers given."),
        ("pcl5", [5] + [0] * 19, "PCL-5 item 1: 5 is outside 0–4."),
        ("pain", [11], "Pain (0–10) item 1: 11 is outside 0–10."),
        ("pain", [], "Pain (0–10) has 1 item; 0 answers given."),
        ("pain", ["7"], "Pain (0–10) item 1: '7' is not a whole number."),
        ("pain", [True], "Pain (0–10) item 1: True is not a whole number."),
        ("pain", [2.5], "Pain (0–10) item 1: 2.5 is not a whole number."),
        ("pain", 7, "Pain (0–10) answers must be a list of 1 whole number."),
        ("bdi", [0], "Unknown questionnaire 'bdi'; expected one of: phq9, gad7, pcl5, pain."),
    ],
)
def test_malformed_answers_are_refused_with_a_clear_message(instrument, answers, message):
    with pytest.raises(ScoringError) as excinfo:
        score(instrument, answers)
    assert str(excinfo.value) == message
