"""Compatibility names: loading lives in :mod:`runcomfy_codegen.schema.loader`, the keyword table in
:mod:`runcomfy_codegen.schema.dialect`."""

from runcomfy_codegen.schema.dialect import JSON_TYPES, KEYWORDS, UNSUPPORTED
from runcomfy_codegen.schema.loader import (
    LoadedSchema,
    Warning_,
    check_schema,
    load_bytes,
    load_schema,
    parse_json,
    unwrap_output,
)
from runcomfy_codegen.schema.meta import meta_schema

__all__ = [
    "JSON_TYPES",
    "KEYWORDS",
    "UNSUPPORTED",
    "LoadedSchema",
    "Warning_",
    "check_schema",
    "load_bytes",
    "load_schema",
    "meta_schema",
    "parse_json",
    "unwrap_output",
]
