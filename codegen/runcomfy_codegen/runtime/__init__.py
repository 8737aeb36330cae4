"""Runtime modules copied verbatim into every generated package (``runcomfy_models``).

They import only the standard library, httpx, pydantic and jsonschema, never the generator, so the
generated package is self-contained. The generator imports them too (for the rule grammar), which
keeps one definition of each.
"""
