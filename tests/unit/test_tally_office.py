"""tally.office_filed_and_resolution reads two figures out of packed tallies without the
technicians' parts: it must say what the whole sum says, whatever the technicians hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from store.reporting.tally import Facts, Tally, office_filed_and_resolution

T0 = datetime(2031, 3, 4, 9, 0, tzinfo=UTC)

facts = st.builds(
    lambda status, category, wait, repair, assignee, rating: Facts(
        status=status,
        category=category,
        created=T0,
        dispatched=None,
        accepted=T0 + timedelta(minutes=wait) if wait is not None else None,
        completed=T0 + timedelta(minutes=repair) if repair is not None else None,
        due=T0 + timedelta(hours=4),
        rework_count=0,
        rating=rating,
        requester_id=1,
        assignee_id=assignee,
    ),
    st.sampled_from(["closed", "completed", "cancelled", "in_progress"]),
    st.sampled_from(["water", "electrical", "hvac"]),
    st.none() | st.integers(0, 600),
    st.none() | st.integers(1, 10_000),
    st.none() | st.integers(2, 40),
    st.none() | st.integers(1, 5),
)


@given(st.lists(st.lists(facts, max_size=12), max_size=6))
def test_it_says_what_the_whole_sum_says(parts: list[list[Facts]]) -> None:
    packed = []
    for part in parts:
        tally = Tally()
        for f in part:
            tally.add(f, lambda ts: ts is not None)
        packed.append(tally.to_bytes())
    whole = Tally.sum_packed(packed)
    filed, resolution = office_filed_and_resolution(packed)
    assert filed == sum(whole.by_category.values())
    assert sorted(resolution) == sorted(whole.resolution)


def test_nothing_packed_is_nothing() -> None:
    assert office_filed_and_resolution([]) == (0, [])
    assert office_filed_and_resolution([Tally().to_bytes()]) == (0, [])
