"""RunComfy's custom ``validations`` rules, read once from a loaded input schema into rule objects.

The grammar (metrics, operators) is defined once, in the runtime the generated package ships
(:mod:`runcomfy_codegen.runtime._rules`); the loader checks each rule with it, and this module turns
the checked ``validations`` arrays into :class:`~runcomfy_codegen.ir.Rule` values that the parser
renders and ``diff`` compares.
"""

from __future__ import annotations

from typing import Any

from runcomfy_codegen.ir import Rule
from runcomfy_codegen.runtime._rules import METRICS, OPERATORS, RuleSyntaxError, parse_rule

__all__ = ["METRICS", "OPERATORS", "RuleSyntaxError", "parse_rule", "rules_of"]


def rules_of(schema: Any) -> list[Rule]:
    """Every rule of a checked input schema: on top-level properties, and on their array items."""
    rules: list[Rule] = []
    properties = schema.get("properties", {}) if isinstance(schema, dict) else {}
    for json_name, node in properties.items():
        if not isinstance(node, dict):
            continue
        is_array = node.get("type") == "array"  # rules on an array of URLs apply to each item
        owners: list[tuple[dict[str, Any], bool]] = [(node, is_array)]
        if isinstance(node.get("items"), dict):
            owners.append((node["items"], True))
        for owner, each_item in owners:
            for entry in owner.get("validations", []):
                metric, op = parse_rule(entry["validation_rule"], allow_unknown_metric=True)
                rules.append(
                    Rule(
                        json_name,
                        metric,
                        op,
                        entry["validation_value"],
                        entry.get("validation_error", ""),
                        each_item,
                    )
                )
    return rules
