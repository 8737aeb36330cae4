"""The rule grammar and rule objects; defined in :mod:`runcomfy_codegen.schema.rules`."""

from runcomfy_codegen.schema.rules import METRICS, OPERATORS, RuleSyntaxError, parse_rule

__all__ = ["METRICS", "OPERATORS", "RuleSyntaxError", "parse_rule"]
