"""Signed certificates: issuing, the PDF, verification by code and the public key.

A company with an active judgment_defaulter record (effective 100 days ago) is on the
list of dishonest judgment defaulters, grade B with 900 points, excluded from public
procurement and restricted from subsidies (``rulebooks/model.toml``). Runs on SQLite
and PostgreSQL.
"""

from __future__ import annotations

import html
import re
import zlib
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient
from sqlalchemy import update

from tests.accounts import find_person
from tests.test_pages_consequences import USCC, record, subject_id
from trustreg.config import Settings
from trustreg.core import signing
from trustreg.core.identifiers import make_ric
from trustreg.services import certificates, registry
from trustreg.store.db import transaction
from trustreg.store.models import Certificate
from trustreg.web import certificate_routes, i18n
from trustreg.web.app import create_app

REFERENCE = "(2026)京01执1号"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def court_token(client: TestClient, settings: Settings) -> str:
    factory = client.app.state.sessions  # type: ignore[attr-defined]
    registry.add_authority(factory, "court-1", "court", "Authority court-1")
    return registry.issue_token(factory, settings.secret_key, "court-1")


def submit(client: TestClient, token: str, rows: list[dict[str, Any]]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    response = client.post("/api/v1/records", json=rows, headers=headers)
    assert response.status_code == 200, response.text


@pytest.fixture
def defaulter(client: TestClient, court_token: str) -> int:
    submit(client, court_token, [record(REFERENCE)])
    return subject_id(client, f"uscc:{USCC}")


def issued_code(page: str) -> str:
    found = re.search(r'<code class="verification-code">([A-Z2-7]{12})</code>', page)
    assert found is not None, "no verification code on the certificate"
    return found.group(1)


def pdf_text(pdf: bytes) -> bytes:
    """The PDF with its compressed streams inflated (object streams hold the metadata)."""
    parts = [pdf]
    # Up to "endstream" with the line end kept: a compressed stream may itself end in
    # a byte that looks like one. decompressobj leaves what follows the data unused.
    for stream in re.finditer(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        try:
            parts.append(zlib.decompressobj().decompress(stream.group(1)))
        except zlib.error:
            continue
    return b"\n".join(parts)


def test_the_certificate_page_is_signed_with_a_code_and_a_qr_code(
    client: TestClient, defaulter: int
) -> None:
    page = client.get(f"/subjects/{defaulter}/certificate")
    assert page.status_code == 200, page.text
    code = issued_code(page.text)
    assert f'href="http://testserver/verify/{code}"' in page.text
    assert "<svg" in page.text
    shown = re.search(r'<code class="signature-start">([0-9a-f]{16})</code>', page.text)
    assert shown is not None
    result = client.get(f"/api/v1/certificates/{code}").json()
    assert result["signature"].startswith(shown.group(1))
    content = result["content"]
    assert content["code"] == code
    assert content["subject"] == {
        "id": defaulter,
        "kind": "legal_entity",
        "name": "北京测试科技有限公司",
        "identifier": f"uscc:{USCC}",
    }
    assert (content["grade"], content["points"], content["rulebook_version"]) == (
        "B",
        900,
        "2026.2",
    )
    assert [m["list"] for m in content["lists"]] == ["dishonest_defaulters"]
    assert {c["code"] for c in content["consequences"]} == {
        "procurement_exclusion_defaulter",
        "subsidy_restriction_defaulter",
    }
    assert result["signature_valid"] is True
    assert result["still_holds"] is True
    assert result["changes"] == []


def test_the_pdf_carries_the_code_and_its_verification_link(
    client: TestClient, defaulter: int
) -> None:
    response = client.get(f"/subjects/{defaulter}/certificate.pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    text = pdf_text(response.content)
    found = re.search(rb"Credit report certificate ([A-Z2-7]{12})", text)
    assert found is not None, "no code in the PDF's title"
    code = found.group(1).decode()
    assert f"http://testserver/verify/{code}".encode() in text
    # The signed content travels with the PDF, as an attachment.
    assert f'"code":"{code}"'.encode() in text
    assert client.get(f"/api/v1/certificates/{code}").json()["signature_valid"] is True


def test_the_signature_verifies_offline_with_the_published_key(
    client: TestClient, defaulter: int
) -> None:
    code = issued_code(client.get(f"/subjects/{defaulter}/certificate").text)
    published = client.get("/api/v1/certificates/public-key").json()
    assert published["algorithm"] == "Ed25519"
    assert published["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(published["public_key_hex"]))
    result = client.get(f"/api/v1/certificates/{code}").json()
    assert result["payload"] == signing.canonical_json(result["content"])
    # Raises InvalidSignature if it does not verify.
    key.verify(bytes.fromhex(result["signature"]), result["payload"].encode("utf-8"))


def test_the_key_is_derived_from_the_secret(settings: Settings) -> None:
    one = signing.public_key_hex(signing.signing_key(settings.secret_key).public_key())
    again = signing.public_key_hex(signing.signing_key(settings.secret_key).public_key())
    other = signing.public_key_hex(signing.signing_key("another secret").public_key())
    assert one == again != other


def test_altered_content_fails_verification(client: TestClient, defaulter: int) -> None:
    code = issued_code(client.get(f"/subjects/{defaulter}/certificate").text)
    factory = client.app.state.sessions  # type: ignore[attr-defined]
    with transaction(factory) as session:
        stored = session.get(Certificate, code)
        assert stored is not None
        forged = stored.content.replace('"grade":"B"', '"grade":"A"')
        assert forged != stored.content
        session.execute(update(Certificate).where(Certificate.code == code).values(content=forged))
    result = client.get(f"/api/v1/certificates/{code}").json()
    assert result["content"]["grade"] == "A"
    assert result["signature_valid"] is False
    assert result["still_holds"] is False
    page = client.get(f"/verify/{code}")
    assert page.status_code == 200
    assert "Not authentic." in page.text
    chinese = client.get(f"/verify/{code}", params={"lang": "zh"})
    assert "真伪验证未通过。" in chinese.text
    assert "签名无法用本登记机构的公钥验证" in chinese.text
    assert "Not authentic" not in chinese.text


def test_a_satisfied_judgment_means_the_certificate_no_longer_holds(
    client: TestClient, court_token: str, defaulter: int
) -> None:
    code = issued_code(client.get(f"/subjects/{defaulter}/certificate").text)
    page = client.get(f"/verify/{code}")
    assert "Authentic, and still holds." in page.text
    submit(client, court_token, [record(REFERENCE, status="satisfied")])
    result = client.get(f"/api/v1/certificates/{code}").json()
    assert result["signature_valid"] is True
    assert result["still_holds"] is False
    assert (
        "no longer on list dishonest_defaulters "
        "(失信被执行人名单 List of dishonest judgment defaulters)" in result["changes"]
    )
    assert any("procurement_exclusion_defaulter" in c for c in result["changes"])
    page = client.get(f"/verify/{code}")
    assert "Authentic, but no longer holds." in page.text
    assert "no longer on list dishonest_defaulters" in page.text
    # What the certificate said is unchanged.
    assert result["content"]["lists"][0]["list"] == "dishonest_defaulters"


def test_no_certificate_for_a_person(client: TestClient, court_token: str) -> None:
    ric = make_ric("110101", date(1980, 5, 17), 123)
    person = record(
        "(2026)沪01执9号",
        subject_kind="individual",
        id_scheme="ric",
        id_value=ric,
        subject_name="张伟",
    )
    submit(client, court_token, [person])
    person_id = find_person(client, ric)
    for path in ("certificate", "certificate.pdf"):
        response = client.get(f"/subjects/{person_id}/{path}")
        assert response.status_code == 404
        assert ric not in response.text
    factory = client.app.state.sessions  # type: ignore[attr-defined]
    with transaction(factory) as session:
        assert session.query(Certificate).count() == 0


def test_an_unknown_code_is_not_found(client: TestClient) -> None:
    response = client.get("/api/v1/certificates/AAAAAAAAAAAA")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 404
    assert problem["detail"] == "no certificate with verification code AAAAAAAAAAAA"
    page = client.get("/verify/AAAAAAAAAAAA")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "no certificate with verification code" in page.text


def test_standing_changes_are_worded() -> None:
    then = {
        "grade": "B",
        "lists": [{"list": "x", "entered_on": "2026-01-01", "scheduled_exit": "2027-01-01"}],
        "consequences": [],
    }
    now = {
        "grade": "A",
        "lists": [{"list": "x", "entered_on": "2026-01-01", "scheduled_exit": "2026-06-01"}],
        "consequences": [{"code": "c", "title_zh": "措施", "title_en": "Measure"}],
    }
    changes = certificates.standing_changes(then, now)
    assert [str(change) for change in changes] == [
        "grade changed from B to A",
        "list x: scheduled exit changed from 2027-01-01 to 2026-06-01",
        "consequence c (措施 Measure) now in force",
    ]
    chinese = i18n.translations("zh")
    assert [chinese.gettext(c.message) % c.fields for c in changes] == [
        "信用等级由 B 变为 A",
        "名单 x：预定移出日期由 2027-01-01 变为 2026-06-01",
        "措施 c (措施 Measure) 现已生效",
    ]
    assert certificates.standing_changes(then, then) == []


def test_every_change_and_the_attachment_are_worded_in_chinese() -> None:
    """Words made in Python are not in the templates, so test_i18n does not see them."""
    chinese = i18n.translations("zh")
    for message in (*certificates.CHANGE_MESSAGES, certificate_routes.ATTACHMENT_DESCRIPTION):
        worded = chinese.gettext(message)
        assert worded != message, f"no Chinese for {message!r}"
        assert re.search(r"[\u4e00-\u9fff]", worded), worded
        assert sorted(re.findall(r"%\(\w+\)s", worded)) == sorted(
            re.findall(r"%\(\w+\)s", message)
        ), f"the fields of {message!r} differ in Chinese"


# (English, Chinese) wording of the certificate page; each language shows one only.
CERTIFICATE_WORDS = [
    ("<title>Credit report certificate ·", "<title>信用报告 ·"),
    ("<h1>Credit report certificate</h1>", "<h1>信用报告</h1>"),
    ("Issued by the Trust Registry from the records", "由信用登记根据其登记的已决定事实出具。"),
    ("<th>Kind</th><td>Legal entity", "<th>类别</th><td>法人"),
    ("<th>Identifiers</th>", "<th>标识码</th>"),
    ("<th>Issued</th>", "<th>出具时间</th>"),
    ("900 points, as of", "900 分，截至"),
    ("under rulebook version 2026.2", "依据规则版本 2026.2"),
    ("<th>Published records</th>", "<th>公示中的记录</th>"),
    ("</span> record published today", "</span> 条记录今日处于公示期内"),
    ("<h2>List memberships</h2>", "<h2>列入名单情况</h2>"),
    ("<th>Scheduled exit</th>", "<th>预定移出日期</th>"),
    ("Consequences in force", "约束与激励措施"),
    ("Verification code:", "验证码："),
    ("Check this certificate at:", "验证本报告的网址："),
    ("Signed by the registry with Ed25519", "由本登记机构以 Ed25519 签名"),
    ("The public key:", "公钥："),
    ("Download as PDF", "下载 PDF 版本"),
    ("a new certificate, with its own code", "将出具一份新的报告，附有新的验证码"),
    ("This certificate states the subject's standing", "本报告陈述主体在出具时刻"),
    ("Use your browser's Print command", "可使用浏览器的“打印”功能"),
]


def test_the_certificate_page_in_chinese_and_in_english(client: TestClient, defaulter: int) -> None:
    chinese = client.get(f"/subjects/{defaulter}/certificate", params={"lang": "zh"})
    english = client.get(f"/subjects/{defaulter}/certificate", params={"lang": "en"})
    assert '<html lang="zh-CN">' in chinese.text
    assert '<html lang="en">' in english.text
    for en, zh in CERTIFICATE_WORDS:
        assert zh in chinese.text, zh
        assert en not in chinese.text, en
        assert en in english.text, en
        assert zh not in english.text, zh
    # Every label of the Chinese certificate is Chinese.
    labels = re.findall(r"<th>([^<]*)</th>", chinese.text)
    assert labels
    assert [label for label in labels if re.search("[A-Za-z]", label)] == []
    # The PDF link asks for the page's language.
    assert f'href="/subjects/{defaulter}/certificate.pdf?lang=zh"' in chinese.text


def test_the_verify_page_in_chinese_and_in_english(
    client: TestClient, court_token: str, defaulter: int
) -> None:
    code = issued_code(client.get(f"/subjects/{defaulter}/certificate").text)
    holds = client.get(f"/verify/{code}", params={"lang": "zh"}).text
    for zh in (
        f"<title>验证信用报告 {code} · 信用登记</title>",
        f"<h1>信用报告 {code}</h1>",
        "真实，且所载信用状况仍然成立。",
        "该主体的信用等级、名单列入情况及生效的措施与",
        "验证时间：",
        "<h2>报告所载内容</h2>",
        "900 分，截至",
        "失信被执行人名单 (List of dishonest judgment defaulters)，",
        "禁止：",
        "限制：",
        "签名：",
        "Ed25519 公钥：",
        "已签名内容：",
    ):
        assert zh in holds, zh
    for en in ("Authentic", "Certificate ", "Checked ", "What the certificate said", "points"):
        assert en not in holds, en
    assert [h for h in re.findall(r"<th>([^<]*)</th>", holds) if re.search("[A-Za-z]", h)] == []
    submit(client, court_token, [record(REFERENCE, status="satisfied")])
    gone = client.get(f"/verify/{code}", params={"lang": "zh"}).text
    assert "真实，但所载信用状况已不再成立。" in gone
    assert "出具后发生的变化：" in gone
    changes = re.findall(r"<li>([^<]*)</li>", gone.split('<ul class="changes">', 1)[1])
    assert (
        "已移出名单 dishonest_defaulters (失信被执行人名单 List of dishonest judgment defaulters)"
        in [html.unescape(change) for change in changes]
    )
    assert "信用等级由 B 变为 A" in changes
    ended = [c for c in changes if c.startswith("措施 ")]
    assert len(ended) == 2, changes
    assert all(c.endswith(" 已不再生效") for c in ended), changes
    for en in ("no longer", "in force", "changed from"):
        assert en not in gone, en
    english = client.get(f"/verify/{code}", params={"lang": "en"}).text
    assert "Authentic, but no longer holds." in english
    assert "no longer on list dishonest_defaulters" in english
    assert "已移出名单" not in english
    assert "出具后发生的变化" not in english
    # The API answers in English whatever the language asked for.
    api = client.get(f"/api/v1/certificates/{code}", params={"lang": "zh"}).json()
    assert all(isinstance(change, str) for change in api["changes"])
    assert any(change.startswith("no longer on list") for change in api["changes"])


def pdf_string(text: str) -> bytes:
    """How WeasyPrint writes a non-ASCII string into the PDF's metadata (UTF-16, hex)."""
    return b"<feff" + text.encode("utf-16-be").hex().encode() + b">"


def test_the_pdf_follows_the_language_asked_for(client: TestClient, defaulter: int) -> None:
    response = client.get(f"/subjects/{defaulter}/certificate.pdf", params={"lang": "zh"})
    assert response.status_code == 200, response.text
    text = pdf_text(response.content)
    found = re.search(rb"http://testserver/verify/([A-Z2-7]{12})", text)
    assert found is not None
    code = found.group(1).decode()
    assert b"/Title " + pdf_string(f"信用报告 {code}") in text
    assert b"/Keywords " + pdf_string(f"验证码 {code}") in text
    assert pdf_string("列入名单情况") in text  # a heading, in the PDF's outline
    assert pdf_string("已签名内容") in text  # the attachment's description
    assert b"Credit report certificate" not in text
    english = pdf_text(
        client.get(f"/subjects/{defaulter}/certificate.pdf", params={"lang": "en"}).content
    )
    assert b"(List memberships)" in english
    assert b"(signed content)" in english
