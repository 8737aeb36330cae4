"""The rule grammar the generator checks schemas with; defined once, in the runtime it ships."""

from runcomfy_codegen.runtime._rules import METRICS, OPERATORS, RuleSyntaxError, parse_rule

__all__ = ["METRICS", "OPERATORS", "RuleSyntaxError", "parse_rule"]
