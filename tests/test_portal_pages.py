"""The portal pages of the published lists and of the statistics, on both backends.

The registry is the one of ``test_api_public``: four open entries on the defaulters
list (company 2 in Shanghai, one person), two on the abnormal operations list.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.feeds import uscc
from tests.test_api_public import (
    D10,
    D20,
    D30,
    D35,
    D40,
    PERSON,
    PERSON_FIELDS,
    TODAY,
    populate,
    sessions,
)
from trustreg.config import Settings
from trustreg.services.statistics import month_starts
from trustreg.web import charts
from trustreg.web.app import create_app

LIST = "/lists/dishonest_defaulters"
PERSON_NAME = PERSON_FIELDS["subject_name"]
EXPECTED_OPEN = {
    "dishonest_defaulters": 4,
    "serious_violators": 0,
    "abnormal_operations": 2,
    "redlist": 0,
}


@pytest.fixture
def client(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        populate(sessions(test_client), tmp_path)
        yield test_client


def page(client: TestClient, url: str, **params: str) -> str:
    # Passing params, even empty, would replace the query the url already carries.
    response = client.get(url, params=params) if params else client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def entry_names(text: str) -> list[str]:
    return re.findall(
        r'<tr id="entry-\d+">\s*<th scope="row"><a href="/subjects/\d+">([^<]*)<', text
    )


def identifiers(text: str) -> list[str]:
    return re.findall(r"<td><code>([^<]*)</code></td>", text)


def next_link(text: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next"', text)
    return html.unescape(found.group(1)) if found else None


# ------------------------------------------------------------------------------ lists


def test_the_lists_page_shows_each_list_with_its_open_entries(client: TestClient) -> None:
    text = page(client, "/lists")
    for code, count in EXPECTED_OPEN.items():
        row = re.search(rf'<tr id="list-{code}">(.*?)</tr>', text, re.S)
        assert row is not None, code
        assert f'href="/lists/{code}"' in row.group(1)
        assert f'<td class="open-entries">{count}</td>' in row.group(1)
    assert "失信被执行人名单" in text
    assert '<th scope="col">Legal basis</th>' in text
    assert 'href="/lists"' in text
    assert 'href="/statistics"' in text


def test_a_list_shows_its_entries_with_masked_person_numbers(client: TestClient) -> None:
    text = page(client, LIST)
    shown = identifiers(text)
    assert len(shown) == 4
    assert sorted(shown[:2]) == [f"uscc:{uscc(1)}", f"uscc:{uscc(2)}"]
    assert shown[2].startswith("ric:")
    assert shown[2].endswith(PERSON[-4:])
    assert PERSON not in text
    assert "王伟" in entry_names(text)
    days = re.findall(r'<td><time datetime="([^"]+)">', text)
    assert days[::2] == [d.isoformat() for d in (D40, D40, D35, D30)]
    assert "4 of 4 open entries match; 4 shown on this page." in text
    assert next_link(text) is None
    assert 'href="/api/v1/lists/dishonest_defaulters/entries.csv"' in text
    assert '<label for="region">' in text


def test_filters_narrow_the_entries(client: TestClient) -> None:
    assert identifiers(page(client, LIST, region="上海市")) == [f"uscc:{uscc(2)}"]
    typed = page(client, LIST, record_type="business_abnormal")
    assert identifiers(typed) == [f"uscc:{uscc(3)}"]
    assert "1 of 4 open entries match" in typed
    dated = page(client, LIST, entered_from=D35.isoformat(), entered_to=D30.isoformat())
    assert identifiers(dated)[1:] == [f"uscc:{uscc(3)}"]
    empty = page(client, LIST, entered_to=(D40 - timedelta(days=1)).isoformat())
    assert identifiers(empty) == []
    assert "No open entry matches." in empty
    # An empty form field is no filter at all.
    blank = page(client, LIST, region="", record_type="", entered_from="", entered_to="")
    assert len(identifiers(blank)) == 4
    abnormal = page(client, "/lists/abnormal_operations")
    assert re.findall(r'<td><time datetime="([^"]+)">', abnormal)[::2] == [
        D20.isoformat(),
        D10.isoformat(),
    ]


def test_bad_input_and_unknown_lists_answer_an_error_page(client: TestClient) -> None:
    assert client.get(LIST, params={"entered_from": "yesterday"}).status_code == 422
    assert client.get("/lists/no_such_list").status_code == 404


def test_the_next_link_walks_to_the_end_keeping_the_filters(client: TestClient) -> None:
    seen: list[str] = []
    url: str | None = f"{LIST}?limit=1&entered_from={D40.isoformat()}"
    pages = 0
    while url:
        text = page(client, url)
        seen += identifiers(text)
        pages += 1
        url = next_link(text)
        if url:
            query = parse_qs(urlsplit(url).query)
            assert query["entered_from"] == [D40.isoformat()]
            assert query["limit"] == ["1"]
            assert "cursor" in query
    assert pages == 4
    assert len(seen) == len(set(seen)) == 4
    assert seen == identifiers(page(client, LIST))


def test_the_csv_link_carries_the_filters(client: TestClient) -> None:
    text = page(client, LIST, region="上海市", entered_from=D40.isoformat(), record_type="")
    found = re.search(r'<a href="([^"]+)" class="csv"', text)
    assert found is not None
    link = html.unescape(found.group(1))
    parts = urlsplit(link)
    assert parts.path == "/api/v1/lists/dishonest_defaulters/entries.csv"
    assert parse_qs(parts.query) == {"region": ["上海市"], "entered_from": [D40.isoformat()]}
    download = client.get(link)
    assert download.status_code == 200
    assert uscc(2) in download.text
    assert uscc(1) not in download.text


# ------------------------------------------------------------------------- statistics


def rects_with_titles(svg: str) -> list[str]:
    return re.findall(r"<rect [^>]*><title>([^<]*)</title></rect>", svg)


def chart(text: str, chart_id: str) -> str:
    found = re.search(rf'<svg [^>]*id="{chart_id}">.*?</svg>', text, re.S)
    assert found is not None, chart_id
    return found.group(0)


def test_the_statistics_page_draws_the_months_and_the_grades(client: TestClient) -> None:
    text = page(client, "/statistics")
    months = chart(text, "chart-months")
    assert 'role="img"' in months
    assert "<title id=" in months
    listed = Counter(f"{d:%Y-%m}" for d in (D40, D40, D35, D30, D20, D10))
    bars = rects_with_titles(months)
    assert sorted(bars) == sorted(f"{month} Listings: {n}" for month, n in listed.items())
    for start in month_starts(TODAY):  # every month labels the axis
        assert f">{start:%Y-%m}</text>" in months
    grades = rects_with_titles(chart(text, "chart-grades"))
    assert "B: 4" in grades
    assert all(int(title.rsplit(": ", 1)[1]) > 0 for title in grades)


def cells(text: str, row_id: str) -> list[str]:
    row = re.search(rf'<tr id="{row_id}">(.*?)</tr>', text, re.S)
    assert row is not None, row_id
    return re.findall(r'<td class="n"[^>]*>(\d+)</td>', row.group(1))


def test_the_statistics_tables_are_exact(client: TestClient) -> None:
    text = page(client, "/statistics")
    assert cells(text, "kind-individual") == ["1"]
    assert cells(text, "kind-legal_entity") == ["5"]
    # Columns: active, disputed, satisfied, repaired, expired, revoked.
    assert cells(text, "type-judgment_defaulter") == ["4", "0", "0", "0", "0", "0"]
    assert cells(text, "type-business_abnormal") == ["2", "0", "0", "0", "0", "0"]
    assert cells(text, "open-dishonest_defaulters") == ["4"]
    assert cells(text, "open-abnormal_operations") == ["2"]
    regions = re.search(r'<table class="open-by-region">.*?</table>', text, re.S)
    assert regions is not None
    shanghai = re.findall(r"<td>上海市</td><td class=\"n\">(\d+)</td>", regions.group(0))
    assert shanghai == ["1"]
    counts = [int(n) for n in re.findall(r'<td class="n">(\d+)</td>', regions.group(0))]
    assert sum(counts) == 6


def test_both_pages_in_chinese(client: TestClient) -> None:
    lists = page(client, "/lists", lang="zh")
    assert '<html lang="zh-CN">' in lists
    assert "公示名单" in lists
    assert "在列条目" in lists
    entries = page(client, LIST, lang="zh")
    assert "下载 CSV" in entries
    assert "筛选条目" in entries
    stats = page(client, "/statistics", lang="zh")
    assert "统计" in stats
    assert "每月列入与移出" in stats
    assert "列入" in "".join(rects_with_titles(chart(stats, "chart-months")))


# ------------------------------------------------------------------------------ chart


def test_the_chart_escapes_text_and_scales_to_a_nice_ceiling() -> None:
    svg = charts.bar_chart("c", "A <b> chart", ["x&y", "z"], [charts.Series("n", [3, 0])])
    assert '<title id="c-title">A &lt;b&gt; chart</title>' in svg
    assert rects_with_titles(svg) == ["x&amp;y: 3"]
    assert ">5</text>" in svg  # the axis ends at the nice ceiling above 3
    assert [charts.nice_ceiling(n) for n in (0, 1, 3, 7, 11, 230)] == [1, 1, 5, 10, 20, 500]


def test_a_masked_person_number_finds_the_published_entry_and_never_the_number(
    client: TestClient,
) -> None:
    masked = PERSON[:6] + "*" * 8 + PERSON[-4:]
    for query in (masked, f"ric:{masked}", masked.replace("*", "＊")):
        text = page(client, "/search", q=query)
        assert "Published list entries" in text, query
        assert PERSON_NAME in text
        assert f"ric:{masked}" in text
        assert PERSON not in text  # the whole number is never on the page
        assert LIST in text


def test_a_masked_number_of_nobody_listed_finds_nothing(client: TestClient) -> None:
    other = PERSON[:6] + "*" * 8 + ("0000" if PERSON[-4:] != "0000" else "1111")
    text = page(client, "/search", q=other)
    assert "No published list entry has the number" in text
    assert PERSON_NAME not in text
