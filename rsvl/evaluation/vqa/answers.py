"""Answers as the RSVQA protocol scores them: exact match, count answers optionally binned."""

from __future__ import annotations

from rsvl.vqa.questions import bin_count_answer

COUNT_TYPE = "count"


def scored_answer(qtype: str, answer: str, bin_counts: bool) -> str:
    """``answer`` as scored: a count answer becomes its RSVQA-LR bin when ``bin_counts``."""
    return bin_count_answer(answer) if bin_counts and qtype == COUNT_TYPE else answer
