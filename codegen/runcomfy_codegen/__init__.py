"""runcomfy-codegen: typed Python clients for the RunComfy Model API, generated from JSON schemas.

The generator runs in four stages, each its own module:

* :mod:`runcomfy_codegen.load`   reads a schema file and checks it against the RunComfy dialect;
* :mod:`runcomfy_codegen.parse`  turns a checked schema into the IR of :mod:`runcomfy_codegen.ir`;
* :mod:`runcomfy_codegen.render` prints the IR through the Jinja templates in ``templates/``;
* :mod:`runcomfy_codegen.write`  writes the package atomically, touching only files that changed.
"""

from typing import Any

from runcomfy_codegen._errors import SchemaError

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The pipeline (jinja2, the parser) loads on first use: `check` on an unchanged store never needs it.
    if name in ("GenerateResult", "build_package", "generate"):
        from runcomfy_codegen import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)


__all__ = ["GenerateResult", "SchemaError", "__version__", "build_package", "generate"]
