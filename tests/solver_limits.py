"""The wall-clock limit the tests give the CP-SAT solver wherever they assert it proves a day.

Production's limits (settings.DAY_TEMPLATE_TIME_LIMIT_SECONDS, DAY_PLAN_TIME_LIMIT_SECONDS) are
tuned for a server with its cores to itself. A CI machine running two test workers beside other
jobs can be several times slower, and a proof cut short comes back FEASIBLE instead of OPTIMAL: a
red suite that says nothing about the code. So tests/settings.py gives the services this limit,
and engine tests that call the solver directly and assert OPTIMAL pass it. Most solves stop as
soon as their count is proven (or their deterministic work budget is spent) and never come near
it. A template of nurses on different shifts whose per-nurse day is not proven quickly runs its
refining phases on wall-clock shares of the limit (scheduling.engine.day_template), about half of
it: 60 s keeps those tests around half a minute. The tests of what happens AT a limit (one that
runs out) keep their own short ones."""

from __future__ import annotations

PROVING_TIME_LIMIT_SECONDS = 60
