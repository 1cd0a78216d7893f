"""Hostile transport (issue 8 item 2): path traversal in file names and ids, deeply
nested and huge JSON, malformed multipart, and slow clients against a real server.

Every answer is a 4xx problem (or the form again, saying what is wrong), never a 5xx;
nothing is read or written outside its folder; the server keeps answering others.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from httpx2 import Response

from tests.accounts import csrf
from tests.authz_world import World
from tests.feeds import TRUSTREG, cli_env, run_cli
from tests.hostile import (
    BOUNDARY,
    MULTIPART,
    api,
    audit_intact,
    counts,
    form_body,
    hostile_world,
    multipart_body,
)
from tests.pgserver import free_port

GROUNDS = "The fine was paid on the day it was imposed; the receipt is attached."


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from hostile_world(tmp_path_factory.mktemp("transport"))


def _files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file() and "registry.db" not in p.name}


def _is_problem(answer: Response) -> bool:
    return 400 <= answer.status_code < 500 and answer.headers["content-type"].startswith(
        "application/problem+json"
    )


# ------------------------------------------------------------------ path traversal

TRAVERSAL_NAMES = {  # as sent: as stored and sent back
    "../../etc/passwd": "passwd",
    "/etc/passwd": "passwd",
    "..\\..\\windows\\win.ini": "win.ini",
    "a\x00b/c\x00d.txt": "c_d.txt",
    "x" * 1000 + ".txt": "x" * 200,
}


def test_evidence_file_names_lose_their_path(world: World, tmp_path: Path) -> None:
    """Stored and sent back under the last part of the name, cleaned; evidence lives
    in the store, so no file is written anywhere."""
    root = world.app.state.settings.data_dir.parent
    before = _files_under(root)
    client = api(world, "representative")
    files = [("evidence", name, b"Receipt: paid.\n") for name in TRAVERSAL_NAMES]
    url = f"/api/v1/records/{world.ids['own_fine']}/disputes"
    answer = client.post(
        url, content=multipart_body({"grounds": GROUNDS}, files), headers=MULTIPART
    )
    assert answer.status_code == 201, answer.text
    stored = client.get(f"/api/v1/disputes/{answer.json()['id']}").json()["evidence"]
    assert [f["filename"] for f in stored] == list(TRAVERSAL_NAMES.values())
    download = client.get(f"/api/v1/evidence/{stored[0]['id']}")
    assert download.headers["content-disposition"] == "attachment; filename*=UTF-8''passwd"
    assert download.content == b"Receipt: paid.\n"
    assert _files_under(root) == before
    assert not [p for p in tmp_path.parent.parent.rglob("*") if p.name in ("passwd", "win.ini")]


@pytest.mark.parametrize(
    "job",
    [
        "..",
        "..%2F..%2Fetc%2Fpasswd",
        "%2E%2E%2F%2E%2E%2Fregistry.db",
        "..%5C..%5Cregistry.db",
        "%2Fetc%2Fpasswd",
        "x%00y",
        "....%2F%2F....%2F%2Fetc%2Fpasswd",
    ],
)
def test_screening_ids_cannot_name_a_path(world: World, job: str) -> None:
    client = api(world, "checker")
    for url in (f"/api/v1/screenings/{job}", f"/api/v1/screenings/{job}/result"):
        answer = client.get(url)
        # 404, or 422 for a NUL (no id has one)
        assert answer.status_code in (404, 422), (url, answer.text)
        assert _is_problem(answer)
        assert b"root:" not in answer.content


@pytest.mark.parametrize(
    "path", ["/static/..%2F..%2Fapp.py", "/static/%2E%2E/%2E%2E/app.py", "/static/....//app.py"]
)
def test_static_files_stay_in_their_folder(world: World, path: str) -> None:
    answer = api(world).get(path)
    assert answer.status_code == 404
    assert b"create_app" not in answer.content


# ------------------------------------------------------------------ JSON

JSON_ENDPOINTS = ("/api/v1/records", "/api/v1/watches", "/api/v1/disputes/{other_dispute}/decision")
ROLES = {"/api/v1/records": "authority", "/api/v1/watches": "checker"}


def _deep(depth: int, closed: bool) -> bytes:
    opening, closing = ("[" * depth, "]" * depth) if depth % 2 else ('{"a":' * depth, "}" * depth)
    return (opening + "1" + (closing if closed else "")).encode()


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS)
def test_deep_and_huge_json_is_a_problem(world: World, endpoint: str) -> None:
    client = api(world, ROLES.get(endpoint, "reviewer"))
    url = endpoint.format(**world.ids)
    before = counts(world.app.state.sessions)
    bodies = [_deep(10_001, True), _deep(10_000, True), _deep(100_001, False)]
    bodies += [b"[" + b"{}," * 20_000 + b"{}]", b"[" + b"0," * 200_000 + b"0]"]
    for body in bodies:
        answer = client.post(url, content=body, headers={"Content-Type": "application/json"})
        assert _is_problem(answer), (body[:20], answer.status_code, answer.text[:200])
        assert len(answer.content) < 50_000  # not one error per item
    assert counts(world.app.state.sessions) == before
    assert client.get("/api/v1/lists").status_code == 200  # still serving


def test_a_screening_file_with_deep_json_and_surrogates_rejects_those_rows(world: World) -> None:
    lines = [
        b'{"ref": "1", "name": "\\ud800"}',
        b'{"ref": "2", "name": ' + _deep(10_001, True) + b"}",
    ]
    lines.append('{"ref": "3", "name": "北京华信1号科技有限公司"}'.encode())
    client = api(world, "checker")
    answer = client.post(
        "/api/v1/screenings",
        content=b"\n".join(lines) + b"\n",
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert answer.status_code == 202, answer.text
    status = answer.json()
    for _ in range(600):
        if status["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
        status = client.get(f"/api/v1/screenings/{status['id']}").json()
    assert (status["status"], status["rows"], status["rejected"]) == ("done", 1, 2), status


# ------------------------------------------------------------------ multipart


def _malformed(world: World) -> dict[str, tuple[bytes, str]]:
    """(body, content type) of each malformed form, with the browser's CSRF token."""
    token = csrf(world.browsers["representative"], "/account")
    fields = {"grounds": GROUNDS, "csrf_token": token}
    good = multipart_body(fields, [("evidence", "r.txt", b"paid\n")])
    plain = f"multipart/form-data; boundary={BOUNDARY}"
    no_name = f"--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--{BOUNDARY}--\r\n"
    long_header = (
        f"--{BOUNDARY}\r\nX-Long: {'h' * 200_000}\r\n".encode() + good[len(BOUNDARY) + 4 :]
    )
    many = b"".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="f{n}"\r\n\r\nv\r\n'.encode()
        for n in range(10_000)
    )
    return {
        "no boundary": (good, "multipart/form-data"),
        "wrong boundary": (good, "multipart/form-data; boundary=other"),
        "truncated": (good[: len(good) // 2], plain),
        "no end": (good[: -len(f"--{BOUNDARY}--\r\n")], plain),
        "part without name": (no_name.encode(), plain),
        "file as text": (multipart_body(fields | {"evidence": "not a file"}, []), plain),
        "huge header line": (long_header, plain),
        "10,000 parts": (many + f"--{BOUNDARY}--\r\n".encode(), plain),
        "6 files": (multipart_body(fields, [("evidence", "r.txt", b"x")] * 6), plain),
        "bad utf-8": (multipart_body(fields | {"grounds": "\ud800" * 30}, []), plain),
        "not multipart": (form_body(fields), "application/x-www-form-urlencoded"),
    }


# What each is answered. A form that parses reaches the record, whose open case
# makes it 409: nothing is filed either way.
EXPECTED = {
    "no boundary": 400,
    "wrong boundary": 400,
    "truncated": 400,
    "no end": 400,
    "part without name": 400,
    "file as text": 422,
    "huge header line": 400,
    "10,000 parts": 400,
    "6 files": 422,
    "bad utf-8": 409,  # decoded with U+FFFD for what is not UTF-8: text
    "not multipart": 409,  # a urlencoded form without files is a form
}


@pytest.mark.parametrize("channel", ["api", "form"])
def test_malformed_multipart_is_a_clear_4xx(world: World, channel: str) -> None:
    """To the dispute and repair endpoints and forms, on the representative's own
    records (each with a case open): a problem, or the form page saying what is wrong."""
    before = counts(world.app.state.sessions)
    answers = {}
    for name, (body, content_type) in _malformed(world).items():
        for kind, record in (("dispute", "own_record"), ("repair", "own_penalty")):
            headers = {"Content-Type": content_type}
            if channel == "api":
                url = f"/api/v1/records/{world.ids[record]}/{kind}s"
                answer = api(world, "representative").post(url, content=body, headers=headers)
                assert _is_problem(answer), (name, kind, answer.text[:300])
            else:
                url = f"/records/{world.ids[record]}/{kind}"
                answer = world.browsers["representative"].post(url, content=body, headers=headers)
                assert answer.headers["content-type"].startswith("text/html")
            answers[name, kind] = answer.status_code
    assert answers == {(n, k): code for n, code in EXPECTED.items() for k in ("dispute", "repair")}
    assert counts(world.app.state.sessions) == before


def test_a_screening_upload_in_multipart_is_refused(world: World) -> None:
    for body, content_type in list(_malformed(world).values())[:4]:
        answer = api(world, "checker").post(
            "/api/v1/screenings", content=body, headers={"Content-Type": content_type}
        )
        assert _is_problem(answer), answer.text
    assert audit_intact(world.app.state.sessions)


# ------------------------------------------------------------------ slow clients

# Seconds for a request's head, and for its body (the server's settings): time enough
# for a normal request to be answered meanwhile, on a busy machine too.
LIMIT = 2.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """``trustreg serve`` (one process) with short limits on reading requests."""
    folder = tmp_path_factory.mktemp("slow")
    assert run_cli(folder, "init").returncode == 0
    port = free_port()
    limits = {
        "TRUSTREG_REQUEST_HEADER_SECONDS": str(LIMIT),
        "TRUSTREG_REQUEST_BODY_SECONDS": str(LIMIT),
    }
    with (folder / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [str(TRUSTREG), "serve", "--port", str(port)],
            cwd=folder,
            env=cli_env(folder, **limits),
            stdout=log,
            stderr=log,
        )
    try:
        for _ in range(300):
            try:
                _get(port)
                break
            except OSError:
                time.sleep(0.1)
        yield "127.0.0.1", port
    finally:
        process.terminate()
        process.wait(timeout=20)
    log_text = (folder / "server.log").read_text()
    assert "Traceback" not in log_text, log_text[-3000:]


def _get(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/lists", timeout=10) as answer:
        status: int = answer.status
        return status


def _trickle(address: tuple[str, int], head: bytes, tail: bytes) -> tuple[bytes, bool]:
    """Send ``head`` and a byte at once, then the rest of ``tail`` a byte every 0.25 s.
    Returns what the server answered the slow client, and whether a normal request,
    made once the slow client had begun, was answered while it was still connected."""
    with socket.create_connection(address, timeout=10) as slow:
        slow.sendall(head + tail[:1])
        served = _get(address[1]) == 200
        slow.setblocking(False)
        try:
            slow.recv(1)  # an answer, or b"" (closed): it was not served meanwhile
            served = False
        except BlockingIOError:  # nothing yet: still connected
            pass
        slow.settimeout(0.25)
        for byte in tail[1:]:
            try:
                slow.sendall(bytes([byte]))
            except OSError:  # dropped while sending
                break
            try:
                if answer := slow.recv(4096):
                    return answer, served
            except TimeoutError:
                continue
        slow.settimeout(10)
        return slow.recv(4096), served


def test_a_slowloris_client_is_dropped_and_blocks_no_one(server: tuple[str, int]) -> None:
    head = b"GET /api/v1/lists HTTP/1.1\r\nHost: x\r\n"
    answer, served = _trickle(server, head, b"X-Slow: " + b"a" * 100 + b"\r\n\r\n")
    assert served
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_a_slow_body_is_dropped_and_blocks_no_one(server: tuple[str, int]) -> None:
    head = b"POST /api/v1/records HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    head += b"Content-Length: 200\r\n\r\n["
    answer, served = _trickle(server, head, b" " * 199)
    assert served
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_oversized_headers_are_refused(server: tuple[str, int]) -> None:
    with socket.create_connection(server, timeout=10) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000)
        assert client.recv(4096).startswith(b"HTTP/1.1 431 ")
    assert _get(server[1]) == 200
