"""The schema front end: one definition of what a RunComfy schema is, and one way to read it.

* :mod:`.dialect`: the keyword table, what each keyword means, where subschemas sit and the iterator over them;
* :mod:`.store`: the models of a store folder, or of a store folder at a git revision;
* :mod:`.loader`: strict decoding, the dialect check, ``$ref`` resolution (the generator's view);
* :mod:`.rules`: the custom ``validations`` rules, parsed once into rule objects.

``generate``, ``check``, ``import``, ``diff``, ``openapi`` and the tests all read schemas through
these modules; what follows is :mod:`runcomfy_codegen.parse` (IR), :mod:`runcomfy_codegen.render`
and :mod:`runcomfy_codegen.write`.
"""
