"""My file: a subject's representatives see everything held about it, free and at once.

``/my-file/{id}`` (page), ``/my-file/{id}.json`` and ``/my-file/{id}.pdf`` (downloads,
the PDF in the page's language with the JSON attached), and the API
``GET /api/v1/subjects/{id}/file`` (scope ``myfile``). Who may see it is decided in
``services.my_file``: anyone else is refused without learning whether the subject
exists.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from trustreg.services import my_file
from trustreg.web import i18n
from trustreg.web.auth import CurrentActor, now_of
from trustreg.web.deps import Id, Sessions, render
from trustreg.web.openapi import problems
from trustreg.web.purpose_pages import with_list_titles

router = APIRouter()
# How a PDF viewer describes the attached JSON (a gettext message id).
ATTACHMENT_DESCRIPTION = "everything held, as JSON"


def _file_json(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


@router.get("/my-file/{subject_id}.json", include_in_schema=False)
def my_file_json(
    request: Request, subject_id: Id, factory: Sessions, actor: CurrentActor
) -> Response:
    """The file as a JSON download."""
    body = my_file.my_file(factory, actor, subject_id, now_of(request), "page")
    return Response(
        _file_json(body),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="my-file-{subject_id}.json"'},
    )


@router.get("/my-file/{subject_id}.pdf", include_in_schema=False)
def my_file_pdf(
    request: Request, subject_id: Id, factory: Sessions, actor: CurrentActor
) -> Response:
    """The file as a PDF in the request's language, the JSON attached."""
    body = my_file.my_file(factory, actor, subject_id, now_of(request), "page")
    language = i18n.language_of(request)
    context = {"f": body, "html_lang": "zh-CN" if language == "zh" else "en", "lang": language}
    page = i18n.templates(language).env.get_template("my_file_pdf.html").render(context)
    # Imported here: WeasyPrint loads Pango at import, which only the PDF needs.
    import weasyprint  # type: ignore[import-untyped]

    attachment = weasyprint.Attachment(
        string=_file_json(body),
        name=f"my-file-{subject_id}.json",
        description=i18n.translations(language).gettext(ATTACHMENT_DESCRIPTION),
    )
    pdf: bytes = weasyprint.HTML(string=page).write_pdf(attachments=[attachment])
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="my-file-{subject_id}.pdf"'},
    )


@router.get("/my-file/{subject_id}", response_class=HTMLResponse, include_in_schema=False)
def my_file_page(
    request: Request, subject_id: Id, factory: Sessions, actor: CurrentActor
) -> Response:
    """Everything held about the subject, with who looked at it and why."""
    if not actor.signed_in:
        return RedirectResponse(f"/account/sign-in?next=/my-file/{subject_id}", status_code=303)
    body = my_file.my_file(factory, actor, subject_id, now_of(request), "page")
    context = {"f": body, "consequences": with_list_titles(body)}
    return render(request, "my_file.html", context)


@router.get(
    "/api/v1/subjects/{subject_id}/file", tags=["my file"], responses=problems(401, 403, 404)
)
def my_file_api(
    request: Request, subject_id: Id, factory: Sessions, actor: CurrentActor
) -> JSONResponse:
    """Everything the registry holds about a subject you represent (scope ``myfile``):
    the subject, records with status histories, disputes and repair applications,
    records in their notice period, the assessment with its explanation, consequences,
    list entries past and present, notifications, and the access log (who looked the
    subject up, when, for what purpose, and what they were shown).

    401 without a token; 403 for a token without the scope ``myfile``; 404 for a
    subject you do not represent, whether it exists or not.
    """
    return JSONResponse(my_file.my_file(factory, actor, subject_id, now_of(request), "api"))
