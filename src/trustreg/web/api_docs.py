"""``/api/docs``: the API reference rendered on the server from the OpenAPI document.

No script and no CDN: the page is plain HTML with its style in ``/static/api-docs.css``
(the Content-Security-Policy allows no inline style), so it works offline and without
JavaScript.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment

router = APIRouter()
METHODS = ("get", "post", "put", "patch", "delete")

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ title }} API</title>
<link rel="stylesheet" href="/static/api-docs.css"></head><body>
<h1>{{ title }} API</h1>
<p>Version {{ version }}. The machine-readable document is
<a href="{{ openapi_url }}">{{ openapi_url }}</a>. Every error is
<code>application/problem+json</code> (RFC 9457).</p>
<nav><ul>{% for op in operations %}
<li><a href="#{{ op.anchor }}">{{ op.method }} {{ op.path }}</a></li>{% endfor %}
</ul></nav>
{% for op in operations %}<section class="op" id="{{ op.anchor }}">
<h2><span class="m">{{ op.method }}</span> <code>{{ op.path }}</code></h2>
{% if op.summary %}<p><b>{{ op.summary }}</b></p>{% endif %}
{% if op.description %}<p class="d">{{ op.description }}</p>{% endif %}
{% if op.parameters %}<table><tr><th>parameter</th><th>in</th><th>type</th>
<th>required</th><th>description</th></tr>{% for p in op.parameters %}
<tr><td><code>{{ p.name }}</code></td><td>{{ p.in }}</td><td>{{ p.type }}</td>
<td>{{ "yes" if p.required else "no" }}</td><td>{{ p.description }}</td></tr>{% endfor %}
</table>{% endif %}
{% if op.body %}<p>Request body: {{ op.body }}</p>{% endif %}
</section>{% endfor %}
</body></html>
"""
_TEMPLATE = Environment(autoescape=True).from_string(PAGE)


def _type(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " or ".join(_type(s) for s in schema["anyOf"] if s.get("type") != "null")
    kind = str(schema.get("type", "object"))
    if schema.get("format"):
        kind += f" ({schema['format']})"
    return kind


def _operation(path: str, method: str, spec: dict[str, Any]) -> dict[str, Any]:
    parameters = [
        {
            "name": p["name"],
            "in": p["in"],
            "type": _type(p.get("schema", {})),
            "required": p.get("required", False),
            "description": p.get("description", p.get("schema", {}).get("description", "")),
        }
        for p in spec.get("parameters", [])
    ]
    body = ", ".join(spec.get("requestBody", {}).get("content", {}))
    return {
        "method": method.upper(),
        "path": path,
        "anchor": f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", ""),
        "summary": spec.get("summary", ""),
        "description": spec.get("description", ""),
        "parameters": parameters,
        "body": body,
    }


def render_docs(openapi: dict[str, Any], openapi_url: str) -> str:
    """The reference page of an OpenAPI document: every path, method and parameter."""
    operations = [
        _operation(path, method, item[method])
        for path, item in sorted(openapi.get("paths", {}).items())
        for method in METHODS
        if method in item
    ]
    info = openapi.get("info", {})
    return _TEMPLATE.render(
        title=info.get("title", ""),
        version=info.get("version", ""),
        openapi_url=openapi_url,
        operations=operations,
    )


@router.get("/api/docs", include_in_schema=False)
def api_docs(request: Request) -> HTMLResponse:
    """The API reference, rendered from the app's own OpenAPI document."""
    app = request.app
    return HTMLResponse(render_docs(app.openapi(), app.openapi_url or "/api/openapi.json"))
