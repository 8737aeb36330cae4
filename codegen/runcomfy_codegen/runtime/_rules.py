"""RunComfy's custom ``validations`` rules as data: ``metric`` + ``operator`` + ``value``.

A rule string such as ``width_pixels<`` is a metric name followed by an operator. The operator as
written is the contract, so ``<`` is strict: ``width_pixels<`` 6000 accepts 5999 and refuses 6000,
``width/height>`` 0.4 refuses exactly 0.4. ``<=``/``>=`` include the boundary; ``=``/``!=`` compare
exactly.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

# Longest operators first, so ``<=`` is not read as ``<``.
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "=": operator.eq,
}

# Metric name -> what it measures (the unit is part of the name).
METRICS: dict[str, str] = {
    "width_pixels": "image or video frame width in pixels",
    "height_pixels": "image or video frame height in pixels",
    "width/height": "aspect ratio, width divided by height",
    "file_size_mb": "file size in megabytes of 1,000,000 bytes",
    "duration_seconds": "video or audio duration in seconds",
    "fps": "video frames per second",
}

_RULE = re.compile(r"\s*(?P<metric>[A-Za-z_][A-Za-z0-9_/]*)\s*(?P<op><=|>=|!=|<|>|=)\s*")


class RuleSyntaxError(ValueError):
    """A rule string that is not ``metric`` + ``operator``, or names an unknown metric."""


@dataclass(frozen=True)
class MediaRule:
    """One custom rule on a media field, as the schema states it."""

    field: str
    """The property name in the schema (the JSON name, not the Python one)."""
    metric: str
    operator: str
    value: float
    message: str
    """The schema's own ``validation_error`` text, in the page's language."""
    each_item: bool = False
    """True when the field is an array and the rule applies to each item."""

    @property
    def rule(self) -> str:
        return f"{self.metric}{self.operator}"

    def passes(self, measured: float) -> bool:
        return OPERATORS[self.operator](measured, self.value)


def parse_rule(text: str, *, allow_unknown_metric: bool = False) -> tuple[str, str]:
    """Split ``width_pixels<`` into ``("width_pixels", "<")``."""
    match = _RULE.fullmatch(text)
    if match is None:
        raise RuleSyntaxError(
            f"validation rule {text!r} is not a metric followed by one of {', '.join(OPERATORS)}"
        )
    metric, op = match.group("metric"), match.group("op")
    if metric not in METRICS and not allow_unknown_metric:
        raise RuleSyntaxError(
            f"validation rule {text!r}: unknown metric {metric!r} (known: {', '.join(METRICS)})"
        )
    return metric, op
