"""``rsvl demo``: the whole loop on the built-in region, from Python or the command line.

>>> from pathlib import Path
>>> from rsvl.demo import DemoOptions, run_demo
>>> result = run_demo(DemoOptions(out=Path("demo"), size_m=3000))   # doctest: +SKIP
>>> result.report, result.figures["retrieval"]                       # doctest: +SKIP
"""

from rsvl.demo.layout import DemoOptions, DemoResult, equivalent_commands, recipe
from rsvl.demo.pipeline import run_demo

__all__ = ["DemoOptions", "DemoResult", "equivalent_commands", "recipe", "run_demo"]
