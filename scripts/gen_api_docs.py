"""Write docs/api.md's reference from the API's OpenAPI document (and docs/openapi.json).

    .venv/bin/python scripts/gen_api_docs.py          # rewrite the generated part
    .venv/bin/python scripts/gen_api_docs.py --check  # exit 1 if it is out of date

Only the text between the ``api:begin`` / ``api:end`` markers is generated; the prose around
it is written by hand. The application is built without Redis (nothing connects until a
request arrives).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from modelmon.adapters.redis import make_redis
from modelmon.api.app import create_app
from modelmon.api.auth import TokenAuth
from modelmon.api.store import MonitorStore
from modelmon.keys import Keys
from modelmon.settings import RedisSettings

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "api.md"
SPEC = ROOT / "docs" / "openapi.json"
BEGIN, END = "<!-- api:begin -->", "<!-- api:end -->"


def openapi() -> dict[str, Any]:
    store = MonitorStore(make_redis(RedisSettings()), Keys(), "modelmon.capture.v1", 6)
    doc: dict[str, Any] = create_app(store, TokenAuth.of([], [], insecure=True)).openapi()
    return doc


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"])
    kind = schema.get("type", "object")
    if kind == "array":
        return f"list[{_type(schema.get('items', {}))}]"
    fmt = schema.get("format")
    return f"{kind} ({fmt})" if fmt else str(kind)


def _limits(schema: dict[str, Any]) -> str:
    parts = []
    for key, text in (("minimum", ">="), ("maximum", "<="), ("maxLength", "length <="),
                      ("pattern", "pattern")):  # fmt: skip
        if key in schema:
            parts.append(f"{text} `{schema[key]}`")
    if "default" in schema and schema["default"] is not None:
        parts.append(f"default `{json.dumps(schema['default'])}`")
    return ", ".join(parts)


def _operation(path: str, method: str, op: dict[str, Any]) -> list[str]:
    role = "admin" if method in ("post", "put", "delete") else "read"
    lines = [f"### `{method.upper()} {path}`", "", f"{op.get('summary', '')} (token: {role}).", ""]
    params = op.get("parameters", [])
    if params:
        lines += ["| parameter | in | type | limits |", "|---|---|---|---|"]
        for p in params:
            schema = p.get("schema", {})
            lines.append(f"| `{p['name']}` | {p['in']} | {_type(schema)} | {_limits(schema)} |")
        lines.append("")
    body = op.get("requestBody", {}).get("content", {}).get("application/json")
    if body:
        lines += [f"Body (JSON): {_type(body.get('schema', {}))}.", ""]
    codes = ", ".join(
        f"{code} {resp.get('description', '')}".strip()
        for code, resp in sorted(op.get("responses", {}).items())
    )
    lines += [f"Responses: {codes}.", ""]
    return lines


def _schemas(doc: dict[str, Any]) -> list[str]:
    lines = ["## Schemas", ""]
    for name, schema in sorted(doc.get("components", {}).get("schemas", {}).items()):
        if "properties" not in schema:
            continue
        lines += [f"### {name}", ""]
        if schema.get("description"):
            lines += [schema["description"].strip().split("\n\n")[0].replace("\n", " "), ""]
        lines += ["| field | type | description |", "|---|---|---|"]
        required = set(schema.get("required", []))
        for field, prop in schema["properties"].items():
            mark = "" if field in required else " (optional)"
            text = (prop.get("description") or "").replace("\n", " ").replace("|", "\\|")
            lines.append(f"| `{field}`{mark} | {_type(prop)} | {text} |")
        lines.append("")
    return lines


def render(doc: dict[str, Any]) -> str:
    lines = [BEGIN, "", "## Operations", ""]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            lines += _operation(path, method, op)
    lines += _schemas(doc)
    lines.append(END)
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    doc = openapi()
    spec = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    new = text[:start] + render(doc) + text[end:]
    if "--check" in argv:
        stale = new != text or not SPEC.exists() or SPEC.read_text(encoding="utf-8") != spec
        if stale:
            print("docs/api.md or docs/openapi.json is out of date: run `make docs`")
        return 1 if stale else 0
    DOC.write_text(new, encoding="utf-8")
    SPEC.write_text(spec, encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)} and {SPEC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
