"""RunComfy's custom ``validations`` rules: the grammar, and the rule objects.

The grammar (metrics, operators) is defined once, in the runtime the generated package ships
(``runtime/_rules.py``, run from the copy the generator carries: :mod:`runcomfy_codegen.carried`).
The loader checks each rule with it while it walks the schema and keeps the parsed rules as :class:`~runcomfy_codegen.ir.Rule` objects
(:attr:`~runcomfy_codegen.schema.loader.LoadedSchema.rules`), which the parser renders and ``diff``
compares; nothing parses a rule string twice.
"""

from __future__ import annotations

from runcomfy_codegen import carried
from runcomfy_codegen.ir import Rule

carried.load()  # the grammar without the package's __init__ (pydantic): see runcomfy_codegen.carried
from runcomfy_models._rules import METRICS, OPERATORS, RuleSyntaxError, parse_rule  # noqa: E402

__all__ = ["METRICS", "OPERATORS", "Rule", "RuleSyntaxError", "parse_rule"]
