"""Signed credit report certificates: the page, the PDF, verification and the public key.

Every request for a certificate (page or PDF) issues a new one: its content is signed
with the deployment's Ed25519 key (``core/signing.py``) and stored under a short
verification code; its QR code leads to ``/verify/CODE``, which says what the
certificate stated, whether the signature verifies and whether the standing it
stated still holds. The pages and the PDF are in the request's language (``web.i18n``),
the changes that make a certificate no longer hold included; the API answers in English.
"""

from __future__ import annotations

from typing import Any

import segno
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from trustreg.core import signing
from trustreg.services import certificates
from trustreg.services.certificates import Issued
from trustreg.web import i18n
from trustreg.web.deps import CurrentSettings, Id, Sessions, render
from trustreg.web.openapi import problems
from trustreg.web.pages import with_list_titles

router = APIRouter()
SIGNATURE_SHOWN = 16  # hex characters of the signature printed on the certificate
# How a PDF viewer describes the attached signed content (a gettext message id).
ATTACHMENT_DESCRIPTION = "signed content"


@router.get(
    "/subjects/{subject_id}/certificate", response_class=HTMLResponse, include_in_schema=False
)
def certificate_page(
    request: Request, subject_id: Id, factory: Sessions, settings: CurrentSettings
) -> Response:
    """A printable, signed credit report certificate of a legal entity or organisation."""
    issued = certificates.issue(factory, subject_id, settings.secret_key)
    view = issued["subject"]
    context = {
        "s": view,
        "consequences": with_list_titles(view),
        "issued_at": issued["issued_at"],
        "published_records": issued["published_records"],
        **_seal(request, issued["issued"], inline_svg=True),
    }
    return render(request, "certificate.html", context)


@router.get("/subjects/{subject_id}/certificate.pdf", include_in_schema=False)
def certificate_pdf(
    request: Request, subject_id: Id, factory: Sessions, settings: CurrentSettings
) -> Response:
    """The signed certificate of a legal entity or organisation, as a PDF."""
    issued: Issued = certificates.issue(factory, subject_id, settings.secret_key)["issued"]
    language = i18n.language_of(request)
    context = {
        "c": issued.content,
        "html_lang": "zh-CN" if language == "zh" else "en",
        **_seal(request, issued, inline_svg=False),
    }
    page = i18n.templates(language).env.get_template("certificate_pdf.html").render(context)
    # Imported here: WeasyPrint loads Pango at import, which only the PDF needs.
    import weasyprint  # type: ignore[import-untyped]

    attachment = weasyprint.Attachment(
        string=issued.payload + "\n",
        name="certificate.json",
        description=i18n.translations(language).gettext(ATTACHMENT_DESCRIPTION),
    )
    pdf: bytes = weasyprint.HTML(string=page).write_pdf(attachments=[attachment])
    filename = f"certificate-{issued.code}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


@router.get("/verify/{code}", response_class=HTMLResponse, include_in_schema=False)
def verify_page(
    request: Request, code: str, factory: Sessions, settings: CurrentSettings
) -> Response:
    """What a certificate said, whether it is authentic and whether it still holds."""
    public_key = signing.signing_key(settings.secret_key).public_key()
    result = certificates.verify(factory, code, public_key)
    translations = i18n.translations(i18n.language_of(request))
    changes = [translations.gettext(c.message) % c.fields for c in result["changes"]]
    context = {"v": result, "c": result["content"] or {}, "changes": changes}
    return render(request, "verify.html", context)


@router.get("/api/v1/certificates/public-key")
def public_key(settings: CurrentSettings) -> dict[str, str]:
    """The Ed25519 public key that verifies this registry's certificates.

    A certificate's signature covers its content as canonical JSON (keys sorted, no
    whitespace, UTF-8): the ``payload`` of ``/api/v1/certificates/{code}``.
    """
    key = signing.signing_key(settings.secret_key).public_key()
    return {
        "algorithm": "Ed25519",
        "public_key_hex": signing.public_key_hex(key),
        "public_key_pem": signing.public_key_pem(key),
    }


@router.get("/api/v1/certificates/{code}", responses=problems(404))
def certificate_api(code: str, factory: Sessions, settings: CurrentSettings) -> dict[str, Any]:
    """Verify a certificate by its code.

    ``content`` is what the certificate stated and ``payload`` the exact signed text;
    ``signature_valid`` says whether ``signature`` verifies with the registry's public
    key; ``still_holds`` whether the subject's grade, lists and consequences are the
    same now, and ``changes`` lists what differs. 404 for an unknown code.
    """
    public_key = signing.signing_key(settings.secret_key).public_key()
    result = certificates.verify(factory, code, public_key)
    return result | {"changes": [str(change) for change in result["changes"]]}


def _seal(request: Request, issued: Issued, inline_svg: bool) -> dict[str, Any]:
    """The code, verification link, QR code and signature excerpt shown on a certificate."""
    url = str(request.url_for("verify_page", code=issued.code))
    qr = segno.make(url, error="m")
    return {
        "code": issued.code,
        "verify_url": url,
        "qr": Markup(qr.svg_inline(scale=3)) if inline_svg else qr.svg_data_uri(scale=3),
        "signature_start": issued.signature[:SIGNATURE_SHOWN],
    }
