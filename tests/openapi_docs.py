"""The REST API reference in docs/, generated from the OpenAPI schema the API serves.

``make schema`` writes docs/openapi.json and docs/api-reference.md; a test fails when either is
out of date, so the published reference is always the schema the code serves.
"""

import json
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"
SCHEMA_FILE = DOCS / "openapi.json"
REFERENCE_FILE = DOCS / "api-reference.md"
PREFIX = "/api/liveness/"
METHODS = ("get", "post", "put", "patch", "delete")


def served_schema():
    """The schema as ``GET schema/`` serves it (the tests' settings mount the API at /api/liveness/)."""
    from django.test import Client

    response = Client().get(f"{PREFIX}schema/", {"format": "json"})
    assert response.status_code == 200, response.status_code
    return json.loads(response.content)


def _cell(text):
    return " ".join((text or "").split()).replace("|", "\\|")


def _schema_name(content):
    for media_type, body in sorted((content or {}).items()):
        ref = body.get("schema", {}).get("$ref", "")
        items = body.get("schema", {}).get("items", {}).get("$ref", "")
        name = (ref or items).rsplit("/", 1)[-1]
        if name:
            return f"`{name}[]`" if items else f"`{name}`"
        return f"({media_type})"
    return ""


def render_reference(schema):
    """Markdown: one section per operation with its parameters, request body and answers."""
    lines = [
        "# REST API reference",
        "",
        "Generated from the OpenAPI schema that `schema/` serves ([openapi.json](openapi.json));",
        "`make schema` regenerates it. Paths are shown under `/api/liveness/`, where the",
        "[REST API](api.md) page includes the URLs. Every error answer has the body `Error`:",
        '`{"detail": ..., "code": ..., "fields"?: {...}}`.',
        "",
    ]
    for path, operations in schema["paths"].items():
        for method in METHODS:
            operation = operations.get(method)
            if operation is None:
                continue
            lines += [f"## {method.upper()} `{path.removeprefix(PREFIX)}`", ""]
            if operation.get("description"):
                lines += [_cell(operation["description"]), ""]
            parameters = [*operations.get("parameters", []), *operation.get("parameters", [])]
            if parameters:
                lines += ["| parameter | in | required | description |", "|---|---|---|---|"]
                for parameter in parameters:
                    lines.append(
                        f"| `{parameter['name']}` | {parameter['in']} | {'yes' if parameter.get('required') else 'no'} "
                        f"| {_cell(parameter.get('description', ''))} |"
                    )
                lines.append("")
            body = operation.get("requestBody")
            if body:
                media = ", ".join(f"`{media_type}`" for media_type in body["content"])
                lines += [f"Request body: {_schema_name(body['content'])} as {media}.", ""]
            lines += ["| status | body | meaning |", "|---|---|---|"]
            for status, answer in sorted(operation["responses"].items()):
                lines.append(f"| {status} | {_schema_name(answer.get('content'))} | {_cell(answer.get('description', ''))} |")
            lines.append("")
    return "\n".join(lines)


def write():
    schema = served_schema()
    SCHEMA_FILE.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    REFERENCE_FILE.write_text(render_reference(schema))


if __name__ == "__main__":
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()
    write()
    print(f"wrote {SCHEMA_FILE.relative_to(DOCS.parent)} and {REFERENCE_FILE.relative_to(DOCS.parent)}")
