"""Errors of the generator. Every message names the file, the JSON pointer and the reason."""

from __future__ import annotations

from pathlib import Path


def escape_pointer_token(token: str | int) -> str:
    """Escape one JSON pointer reference token (RFC 6901)."""
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer(*tokens: str | int) -> str:
    return "".join("/" + escape_pointer_token(t) for t in tokens)


class CodegenError(Exception):
    """Base class of every error the generator reports to its user."""


class SchemaError(CodegenError):
    """A schema the generator refuses: names the file, the JSON pointer inside it and the reason."""

    def __init__(self, file: Path | str, pointer: str, reason: str) -> None:
        self.file = str(file)
        self.pointer = pointer or ""
        self.reason = reason
        super().__init__(f"{self.file}#{self.pointer}: {reason}")

    def __reduce__(self) -> tuple[type[SchemaError], tuple[str, str, str]]:  # picklable across workers
        return (type(self), (self.file, self.pointer, self.reason))


class ModelIdError(CodegenError):
    """A model id outside the shape RunComfy publishes."""


class SourceError(CodegenError):
    """An `import` source that cannot be read or understood."""


class OutputError(CodegenError):
    """The output folder cannot be written (e.g. it is a file)."""
