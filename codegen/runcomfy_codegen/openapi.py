"""``runcomfy-codegen openapi``: one OpenAPI 3.1 document for the whole schema store.

Per model, ``POST /v1/models/{model_id}`` with the model's input schema as the request body (custom
rules kept as an ``x-runcomfy-validations`` extension, RunComfy's non-standard formats kept as they
are); the shared status/result/cancel paths with their reply schemas; bearer security; RunComfy's
error shape. Schema names come from the module rule (``bytedance__seedance_v1_5_pro__image_to_video``
-> ``BytedanceSeedanceV15ProImageToVideoInput``).
"""

from __future__ import annotations

import copy
from typing import Any

from runcomfy_codegen.model_id import module_name, url_path
from runcomfy_codegen.parse import clean_text
from runcomfy_codegen.schema.dialect import map_subschemas
from runcomfy_codegen.schema.loader import LoadedSchema, resolve
from runcomfy_codegen.store import Store
from runcomfy_models._urls import DEFAULT_BASE_URL

_ERROR = {
    "type": "object",
    "properties": {
        "error_code": {"type": "integer", "description": "e.g. 400001 invalid resource id, 403001 permission "
                       "denied, 404001 request not found or expired, 400002 insufficient balance, 400004 account error"},
        "message": {"type": "string"},
        "detail": {"type": "array", "items": {}},
    },
}  # fmt: skip
_STATUS_ENUM = ["in_queue", "in_progress", "completed", "succeeded", "failed", "cancelled", "canceled"]


def _pascal(module: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in module.replace("__", "_").split("_"))


def _for_openapi(loaded: LoadedSchema) -> Any:
    """The schema with every ``$ref`` resolved in place (so no reference dangles in the document),
    vendor keywords kept, ``validations`` renamed ``x-runcomfy-validations`` at every position."""
    return _rename(resolve(loaded.schema, loaded.path, keep_vendor=True))


def _rename(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in map_subschemas(schema, lambda _rel, child: _rename(child)).items():
        if key == "validations":
            out["x-runcomfy-validations"] = copy.deepcopy(value)
        elif key == "title" and clean_text(value) is None:
            continue  # an untranslated page label, not a title
        else:
            out[key] = value
    return out


def _reply(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _errors() -> dict[str, Any]:
    return {
        code: _reply(text, "Error")
        for code, text in (
            ("400", "Bad request"),
            ("401", "Missing or invalid token"),
            ("402", "Insufficient balance"),
            ("403", "Permission denied"),
            ("404", "Unknown model or request"),
            ("422", "Invalid input"),
            ("429", "Rate limited"),
            ("500", "Server error"),
        )
    }


def build_openapi(store: Store) -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "Error": _ERROR,
        "SubmitResponse": {
            "type": "object",
            "required": ["request_id"],
            "properties": {
                "request_id": {"type": "string"},
                "status_url": {"type": "string", "format": "uri"},
                "result_url": {"type": "string", "format": "uri"},
                "cancel_url": {"type": "string", "format": "uri"},
            },
        },
        "StatusResponse": {
            "type": "object",
            "required": ["request_id", "status"],
            "properties": {
                "request_id": {"type": "string"},
                "status": {"type": "string", "enum": _STATUS_ENUM},
                "queue_position": {"type": "integer"},
                "status_url": {"type": "string", "format": "uri"},
                "result_url": {"type": "string", "format": "uri"},
            },
        },
        "ResultResponse": {
            "type": "object",
            "required": ["request_id", "status"],
            "properties": {
                "request_id": {"type": "string"},
                "status": {"type": "string", "enum": _STATUS_ENUM},
                "output": {"type": "object", "description": "the model's output (see its *Output schema)"},
                "created_at": {"type": "string"},
                "finished_at": {"type": "string"},
                "error": {"description": "present when the job failed; shape undocumented"},
            },
        },
        "CancelResponse": {
            "type": "object",
            "required": ["request_id", "outcome"],
            "properties": {
                "request_id": {"type": "string"},
                "status": {"type": "string"},
                "outcome": {"type": "string", "enum": ["cancelled", "not_cancellable"]},
            },
        },
    }
    request_id = {"name": "request_id", "in": "path", "required": True, "schema": {"type": "string"}}
    paths: dict[str, Any] = {}
    for model_id in sorted(store):
        loaded = store[model_id]
        name = _pascal(module_name(model_id))
        schemas[f"{name}Input"] = {**_for_openapi(loaded.input), "title": f"{name}Input"}
        schemas[f"{name}Output"] = {**_for_openapi(loaded.output), "title": f"{name}Output"}
        paths[f"/v1/models/{url_path(model_id)}"] = {
            "post": {
                "operationId": f"submit_{module_name(model_id)}",
                "summary": f"Submit a {model_id} job",
                "tags": [model_id.split("/")[0]],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": f"#/components/schemas/{name}Input"}}
                    },
                },
                "responses": {"200": _reply("The job was queued", "SubmitResponse"), **_errors()},
                "x-runcomfy-model-id": model_id,
                "x-runcomfy-output-schema": f"#/components/schemas/{name}Output",
            }
        }
    for action, method, reply, summary in (
        ("status", "get", "StatusResponse", "A job's status"),
        ("result", "get", "ResultResponse", "A job's result (or its current status)"),
        ("cancel", "post", "CancelResponse", "Cancel a queued job"),
    ):
        code = "202" if action == "cancel" else "200"
        paths[f"/v1/requests/{{request_id}}/{action}"] = {
            method: {
                "operationId": f"{action}_request",
                "summary": summary,
                "tags": ["requests"],
                "parameters": [request_id],
                "responses": {code: _reply(summary, reply), **_errors()},
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "RunComfy Model API",
            "version": "1.0.0",
            "description": "Generated by runcomfy-codegen from the schema store.",
        },
        "servers": [{"url": DEFAULT_BASE_URL}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
