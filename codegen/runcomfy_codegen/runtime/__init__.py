"""Not a package: the files of the client runtime, which ``generate`` copies into every generated
package (``runcomfy_models``); every file here but this one is copied (``package_init.py`` becomes its
``__init__.py``). The generator never imports them from here: where it shares code with the runtime
(the rule grammar, URL paths, the ECMA-262 pattern check) it imports the copy in the
``runcomfy_models`` package it carries, the same code a client runs.
"""

raise ImportError(
    "runcomfy_codegen.runtime holds the files generate copies, not modules to import: import runcomfy_models",
    name="runcomfy_codegen.runtime",
)
