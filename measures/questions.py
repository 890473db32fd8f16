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

# PCL-5 (Weathers et al., National Center for PTSD) is in the public domain; the wording is the
# published English version for the past month.
PCL5 = Questionnaire(
    Instrument.PCL5,
    "PCL-5: after a very stressful experience",
    "Below is a list of problems that people sometimes have in response to a very stressful experience. "
    "In the past month, how much were you bothered by:",
    (
        "Repeated, disturbing, and unwanted memories of the stressful experience?",
        "Repeated, disturbing dreams of the stressful experience?",
        "Suddenly feeling or acting as if the stressful experience were actually happening again "
        "(as if you were actually back there reliving it)?",
        "Feeling very upset when something reminded you of the stressful experience?",
        "Having strong physical reactions when something reminded you of the stressful experience "
        "(for example, heart pounding, trouble breathing, sweating)?",
        "Avoiding memories, thoughts, or feelings related to the stressful experience?",
        "Avoiding external reminders of the stressful experience (for example, people, places, conversations, "
        "activities, objects, or situations)?",
        "Trouble remembering important parts of the stressful experience?",
        "Having strong negative beliefs about yourself, other people, or the world (for example, having thoughts "
        "such as: I am bad, there is something seriously wrong with me, no one can be trusted, the world is "
        "completely dangerous)?",
        "Blaming yourself or someone else for the stressful experience or what happened after it?",
        "Having strong negative feelings such as fear, horror, anger, guilt, or shame?",
        "Loss of interest in activities that you used to enjoy?",
        "Feeling distant or cut off from other people?",
        "Trouble experiencing positive feelings (for example, being unable to feel happiness or have loving "
        "feelings for people close to you)?",
        "Irritable behavior, angry outbursts, or acting aggressively?",
        "Taking too many risks or doing things that could cause you harm?",
        "Being \u201csuperalert\u201d or watchful or on guard?",
        "Feeling jumpy or easily startled?",
        "Having difficulty concentrating?",
        "Trouble falling or staying asleep?",
    ),
    [(0, "Not at all"), (1, "A little bit"), (2, "Moderately"), (3, "Quite a bit"), (4, "Extremely")],
)

PORTAL_QUESTIONNAIRES = {q.instrument.value: q for q in (PHQ9, GAD7, PCL5, PAIN)}
