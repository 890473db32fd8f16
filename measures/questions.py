"""The questionnaires as the patient reads them. PHQ-9 and GAD-7 (Spitzer, Williams, Kroenke
and colleagues, developed with an educational grant from Pfizer) may be reproduced without
permission; the wording here is the published English version."""

from __future__ import annotations

from dataclasses import dataclass

from measures.scoring import Instrument

FREQUENCY_CHOICES = [(0, "Not at all"), (1, "Several days"), (2, "More than half the days"), (3, "Nearly every day")]


@dataclass(frozen=True)
class Questionnaire:
    instrument: Instrument
    title: str
    stem: str
    items: tuple[str, ...]
    choices: list[tuple[int, str]]


PHQ9 = Questionnaire(
    Instrument.PHQ9,
    "PHQ-9: how you have been feeling",
    "Over the last 2 weeks, how often have you been bothered by any of the following problems?",
    (
        "Little interest or pleasure in doing things",
        "Feeling down, depressed, or hopeless",
        "Trouble falling or staying asleep, or sleeping too much",
        "Feeling tired or having little energy",
        "Poor appetite or overeating",
        "Feeling bad about yourself — or that you are a failure or have let yourself or your family down",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
        "Moving or speaking so slowly that other people could have noticed? Or the opposite — being so fidgety "
        "or restless that you have been moving around a lot more than usual",
        "Thoughts that you would be better off dead or of hurting yourself in some way",
    ),
    FREQUENCY_CHOICES,
)

GAD7 = Questionnaire(
    Instrument.GAD7,
    "GAD-7: anxiety",
    "Over the last 2 weeks, how often have you been bothered by the following problems?",
    (
        "Feeling nervous, anxious or on edge",
        "Not being able to stop or control worrying",
        "Worrying too much about different things",
        "Trouble relaxing",
        "Being so restless that it is hard to sit still",
        "Becoming easily annoyed or irritable",
        "Feeling afraid as if something awful might happen",
    ),
    FREQUENCY_CHOICES,
)

PAIN = Questionnaire(
    Instrument.PAIN,
    "Pain score",
    "On a scale from 0 (no pain) to 10 (the worst pain you can imagine):",
    ("How bad has your pain been on average over the last 24 hours?",),
    [(0, "0 – no pain"), *[(n, str(n)) for n in range(1, 10)], (10, "10 – worst imaginable")],
)

# The portal offers these; the 20-item PCL-5 is entered by staff through the API for now.
PORTAL_QUESTIONNAIRES = {q.instrument.value: q for q in (PHQ9, GAD7, PAIN)}
