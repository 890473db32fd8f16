"""Scoring of the questionnaires, in plain Python on plain values (no ORM).

Sources of the scoring rules:
- PHQ-9: Kroenke, Spitzer & Williams 2001. Nine items 0–3, total 0–27; severity 0–4 minimal,
  5–9 mild, 10–14 moderate, 15–19 moderately severe, 20–27 severe. Any answer above 0 on
  item 9 (thoughts of being better off dead or of self-harm) is flagged for the clinician
  whatever the total.
- GAD-7: Spitzer et al. 2006. Seven items 0–3, total 0–21; 0–4 minimal, 5–9 mild,
  10–14 moderate, 15–21 severe.
- PCL-5: Weathers et al. 2013 (National Center for PTSD). Twenty items 0–4, total 0–80.
  The published provisional-diagnosis cutoff is a range, 31–33. We use 33 ("probable PTSD"
  at 33 or more): the top of the range, so the flag errs towards fewer false positives;
  it is a screen for the clinician's attention, never a diagnosis.
- Pain: one 0–10 numeric rating; 0 none, 1–3 mild, 4–6 moderate, 7–10 severe.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Instrument(StrEnum):
    PHQ9 = "phq9"
    GAD7 = "gad7"
    PCL5 = "pcl5"
    PAIN = "pain"


SELF_HARM_FLAG = "self_harm_thoughts"
FLAG_LABELS = {SELF_HARM_FLAG: "Self-harm thoughts reported (PHQ-9 item 9)"}


@dataclass(frozen=True)
class Band:
    code: str
    label: str
    lowest: int
    highest: int


@dataclass(frozen=True)
class InstrumentSpec:
    instrument: Instrument
    name: str
    item_count: int
    item_min: int
    item_max: int
    bands: tuple[Band, ...]

    @property
    def max_total(self) -> int:
        return self.item_count * self.item_max

    def band_for(self, total: int) -> Band:
        for band in self.bands:
            if band.lowest <= total <= band.highest:
                return band
        raise ScoringError(f"{self.name} total {total} is outside 0–{self.max_total}.")


# The PCL-5 cutoff the clinic uses; see the module docstring for why 33 and not 31.
PCL5_PROBABLE_PTSD_CUTOFF = 33

SPECS: dict[Instrument, InstrumentSpec] = {
    Instrument.PHQ9: InstrumentSpec(
        Instrument.PHQ9,
        "PHQ-9",
        9,
        0,
        3,
        (
            Band("minimal", "Minimal", 0, 4),
            Band("mild", "Mild", 5, 9),
            Band("moderate", "Moderate", 10, 14),
            Band("moderately_severe", "Moderately severe", 15, 19),
            Band("severe", "Severe", 20, 27),
        ),
    ),
    Instrument.GAD7: InstrumentSpec(
        Instrument.GAD7,
        "GAD-7",
        7,
        0,
        3,
        (
            Band("minimal", "Minimal", 0, 4),
            Band("mild", "Mild", 5, 9),
            Band("moderate", "Moderate", 10, 14),
            Band("severe", "Severe", 15, 21),
        ),
    ),
    Instrument.PCL5: InstrumentSpec(
        Instrument.PCL5,
        "PCL-5",
        20,
        0,
        4,
        (
            Band("below_cutoff", "Below PTSD cutoff", 0, PCL5_PROBABLE_PTSD_CUTOFF - 1),
            Band("probable_ptsd", "Probable PTSD", PCL5_PROBABLE_PTSD_CUTOFF, 80),
        ),
    ),
    Instrument.PAIN: InstrumentSpec(
        Instrument.PAIN,
        "Pain (0–10)",
        1,
        0,
        10,
        (
            Band("none", "No pain", 0, 0),
            Band("mild", "Mild", 1, 3),
            Band("moderate", "Moderate", 4, 6),
            Band("severe", "Severe", 7, 10),
        ),
    ),
}


class ScoringError(ValueError):
    """Answers that cannot be scored; the message says what is wrong, for the person entering them."""


@dataclass(frozen=True)
class Score:
    instrument: Instrument
    total: int
    band: Band
    flags: tuple[str, ...]


def spec_for(instrument: str) -> InstrumentSpec:
    try:
        return SPECS[Instrument(instrument)]
    except ValueError:
        known = ", ".join(i.value for i in Instrument)
        raise ScoringError(f"Unknown questionnaire {instrument!r}; expected one of: {known}.") from None


def validate_answers(instrument: str, answers: object) -> list[int]:
    """The answers as a list of ints, or ScoringError naming the first problem."""
    spec = spec_for(instrument)
    items = f"{spec.item_count} item{'s' if spec.item_count != 1 else ''}"
    if not isinstance(answers, list | tuple):
        raise ScoringError(
            f"{spec.name} answers must be a list of {spec.item_count} whole number{'s' if spec.item_count != 1 else ''}."
        )
    if len(answers) != spec.item_count:
        raise ScoringError(f"{spec.name} has {items}; {len(answers)} answer{'s' if len(answers) != 1 else ''} given.")
    for number, answer in enumerate(answers, start=1):
        # bool is an int subclass: True is not an answer.
        if isinstance(answer, bool) or not isinstance(answer, int):
            raise ScoringError(f"{spec.name} item {number}: {answer!r} is not a whole number.")
        if not spec.item_min <= answer <= spec.item_max:
            raise ScoringError(f"{spec.name} item {number}: {answer} is outside {spec.item_min}–{spec.item_max}.")
    return list(answers)


def score(instrument: str, answers: object) -> Score:
    spec = spec_for(instrument)
    items = validate_answers(instrument, answers)
    total = sum(items)
    flags: list[str] = []
    if spec.instrument == Instrument.PHQ9 and items[8] > 0:
        flags.append(SELF_HARM_FLAG)
    return Score(instrument=spec.instrument, total=total, band=spec.band_for(total), flags=tuple(flags))
