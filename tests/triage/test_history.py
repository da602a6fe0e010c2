"""Repeat contacts: the same customer on the same issue within the window, with hand-made unit vectors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from triage.stages.history import Contact, ContactHistory
from triage.taxonomy import NEEDS_REVIEW

DIM = 8
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def unit(*values: float) -> np.ndarray:
    vector = np.zeros(DIM, np.float32)
    vector[: len(values)] = values
    return vector / np.linalg.norm(vector)


def at_cosine(cos: float) -> np.ndarray:
    """A unit vector with the given cosine to BASE."""
    return unit(cos, float(np.sqrt(1 - cos**2)))


BASE = unit(1.0)
SIMILAR = at_cosine(0.85)  # same issue reworded: over 0.80, under 0.95
NEAR_IDENTICAL = at_cosine(0.97)
DISSIMILAR = unit(0.0, 0.0, 1.0)  # orthogonal to BASE


@pytest.fixture
def history() -> ContactHistory:
    history = ContactHistory(window=timedelta(hours=72))
    history.record("c-1", Contact("m-1", "chat", T0, "delivery_delay", BASE))
    return history


def test_vectors_are_what_the_tests_claim():
    for vector in (BASE, SIMILAR, NEAR_IDENTICAL, DISSIMILAR):
        assert np.linalg.norm(vector) == pytest.approx(1.0)
    assert float(BASE @ SIMILAR) == pytest.approx(0.85)
    assert float(BASE @ NEAR_IDENTICAL) == pytest.approx(0.97)
    assert float(BASE @ DISSIMILAR) == pytest.approx(0.0)


def test_same_customer_same_tag_similar_message_is_a_repeat(history):
    earlier = history.find_repeat("c-1", T0 + timedelta(hours=24), SIMILAR, "delivery_delay")

    assert earlier is not None
    assert earlier.message_id == "m-1"
    assert earlier.channel == "chat"


def test_repeat_just_inside_the_window(history):
    assert history.find_repeat("c-1", T0 + timedelta(hours=71), SIMILAR, "delivery_delay") is not None


def test_after_the_window_it_is_not_a_repeat(history):
    assert history.find_repeat("c-1", T0 + timedelta(hours=73), SIMILAR, "delivery_delay") is None


def test_another_customer_is_never_a_repeat(history):
    assert history.find_repeat("c-2", T0 + timedelta(hours=1), BASE, "delivery_delay") is None


def test_different_tag_and_dissimilar_message_is_not_a_repeat(history):
    assert history.find_repeat("c-1", T0 + timedelta(hours=1), DISSIMILAR, "refund_status") is None


def test_same_tag_but_dissimilar_message_is_not_a_repeat(history):
    assert history.find_repeat("c-1", T0 + timedelta(hours=1), DISSIMILAR, "delivery_delay") is None


def test_needs_review_is_no_shared_issue():
    history = ContactHistory(window=timedelta(hours=72))
    history.record("c-1", Contact("m-1", "chat", T0, NEEDS_REVIEW, BASE))

    # similar (0.85) and the same tag would be a repeat for a real tag, but needs_review is no issue in common
    assert history.find_repeat("c-1", T0 + timedelta(hours=1), SIMILAR, NEEDS_REVIEW) is None
    assert history.find_repeat("c-1", T0 + timedelta(hours=1), DISSIMILAR, NEEDS_REVIEW) is None


def test_near_identical_message_is_a_repeat_whatever_the_tag(history):
    earlier = history.find_repeat("c-1", T0 + timedelta(hours=2), NEAR_IDENTICAL, "refund_status")

    assert earlier is not None and earlier.message_id == "m-1"


def test_similar_but_not_identical_message_with_another_tag_is_not_a_repeat(history):
    assert history.find_repeat("c-1", T0 + timedelta(hours=2), SIMILAR, "refund_status") is None


def test_most_recent_matching_contact_is_returned(history):
    history.record("c-1", Contact("m-2", "email", T0 + timedelta(hours=10), "delivery_delay", SIMILAR))

    earlier = history.find_repeat("c-1", T0 + timedelta(hours=20), BASE, "delivery_delay")

    assert earlier is not None and earlier.message_id == "m-2"
