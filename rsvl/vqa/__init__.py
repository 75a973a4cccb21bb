"""RSVQA-style visual question answering, the domain rules: question generation from OSM objects
(templates, answer bins and relations as data) and the official RSVQA JSON layout.

The question-set builder is :mod:`rsvl.builders.vqa`; the evaluators (zero-shot and the trained
fusion head) are :mod:`rsvl.evaluation.vqa`.

    >>> from rsvl.vqa import read_rsvqa
    >>> train, test = read_rsvqa("vqa", "train"), read_rsvqa("vqa", "test")  # doctest: +SKIP
"""

from rsvl.vqa.questions import QuestionOptions, bin_answer, list_categories
from rsvl.vqa.rsvl_format import VqaQuestion, VqaSet, list_splits, read_rsvqa, write_rsvqa

__all__ = [
    "QuestionOptions",
    "VqaQuestion",
    "VqaSet",
    "bin_answer",
    "list_categories",
    "list_splits",
    "read_rsvqa",
    "write_rsvqa",
]
