"""The screening index stays fresh without full rebuilds: a base and a delta.

The service tests import real files into a real store (SQLite and PostgreSQL) and
count the full builds (``RegistryIndex.builds``); the property test builds layered and
fresh indexes of generated registries in memory and asserts equal answers.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from tests import feeds
from tests.feeds import ric, run_import, subject_row, write_subjects
from trustreg.core.blocking import ScreeningIndex
from trustreg.core.layered import LayeredIndex
from trustreg.core.matching import Party, Thresholds
from trustreg.services.screening import RegistryIndex
from trustreg.store.db import transaction
from trustreg.store.purge import delete_persons

CITIES = ("北京", "上海", "广州", "深圳", "杭州", "南京")
WORDS = ("沧澜", "华信", "星河", "明珠", "远洋", "金桥", "长城", "东方", "海天", "蓝鲸")
TRADES = ("科技", "贸易", "航运", "电子", "食品", "建筑")
LATIN = ("Canglan", "Huaxin", "Xinghe", "Mingzhu", "Jinqiao")
PEOPLE = ("张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊")


def firm(n: int) -> str:
    return f"{CITIES[n % 6]}{WORDS[n % 10]}{TRADES[n // 6 % 6]}有限公司"


def firms(numbers: range) -> list[dict[str, str]]:
    return [subject_row(n, name=f"{firm(n)}{n}号") for n in numbers]


def person(n: int) -> dict[str, str]:
    fields = {"kind": "individual", "id_scheme": "ric", "registered_on": ""}
    return subject_row(n, **fields, id_value=ric(n), name=PEOPLE[n % 6], birth_date="1980-05-17")


def imported(factory: sessionmaker[Session], path: Path, rows: list[dict[str, str]]) -> None:
    report = run_import(factory, "subjects", write_subjects(path, rows))
    assert report.rejected == 0


def answers(index: LayeredIndex, names: list[str]) -> list[list[tuple[int, float, str]]]:
    """Each name's matches and candidates to review (the no-matches at the tail differ
    once more than ``blocking.CANDIDATES`` entries share a word: ties cut anywhere)."""
    return [
        [
            (c.subject_id, c.score, c.decision)
            for c in index.search(Party(name), top=5)
            if c.decision != "no_match"
        ]
        for name in names
    ]


@pytest.fixture
def registry(factory: sessionmaker[Session], tmp_path: Path) -> RegistryIndex:
    imported(factory, tmp_path / "base.csv", [*firms(range(1, 41)), person(90)])
    return RegistryIndex(factory, Thresholds(), identifier_key=feeds.KEY)


def fresh(registry: RegistryIndex) -> LayeredIndex:
    """A full index of the store as it is now."""
    index, _ = RegistryIndex(registry.factory, Thresholds(), identifier_key=feeds.KEY).current()
    return index


def test_new_and_renamed_subjects_are_found_from_a_delta(
    registry: RegistryIndex, tmp_path: Path
) -> None:
    registry.current()
    renamed = "杭州蓝鲸深海探测有限公司"
    rows = [*firms(range(41, 44)), subject_row(7, name=renamed), person(91)]
    imported(registry.factory, tmp_path / "more.csv", rows)
    registry.expire()
    index, shown = registry.current()
    assert (registry.builds, registry.refreshes) == (1, 1)
    assert index.delta_size == 5  # three firms, one renamed, one person
    for n in range(41, 44):
        best = index.search(Party(f"{firm(n)}{n}号"), top=1)[0]
        assert (shown[best.subject_id].name, best.decision) == (f"{firm(n)}{n}号", "match")
    best = index.search(Party(renamed), top=1)[0]
    assert (shown[best.subject_id].name, best.decision) == (renamed, "match")
    # The old name is kept as a former name: it still finds the subject, now shown
    # under its new name.
    old = index.search(Party(f"{firm(7)}7号"), top=1)[0]
    assert (old.subject_id, shown[old.subject_id].name) == (best.subject_id, renamed)
    found = index.search(Party(PEOPLE[91 % 6], "individual", birth_date="1980-05-17"), top=3)
    people = {shown[c.subject_id].matched_id for c in found}
    assert any(m.startswith("ric:") and m != f"ric:{ric(91)}" for m in people)  # masked
    names = [f"{firm(n)}{n}号" for n in range(1, 44)] + [renamed, "北京沧澜", "星河电子"]
    assert answers(index, names) == answers(fresh(registry), names)
    assert registry.builds == 1


def test_nothing_changed_reads_nothing(registry: RegistryIndex) -> None:
    first, _ = registry.current()
    registry.expire()
    again, _ = registry.current()
    assert again is first
    assert (registry.builds, registry.refreshes) == (1, 0)
    assert registry.ready()


def test_a_large_delta_is_folded_in_by_a_background_rebuild(
    registry: RegistryIndex, tmp_path: Path
) -> None:
    registry.current()
    registry.rebuild_min, registry.rebuild_share = 2, 0.0
    imported(registry.factory, tmp_path / "more.csv", firms(range(41, 45)))
    registry.expire()
    index, shown = registry.current()  # served at once, from the delta
    assert index.delta_size == 4
    assert shown[index.search(Party(f"{firm(44)}44号"), top=1)[0].subject_id].name.endswith("44号")
    assert registry.settle(timeout=60)
    assert registry.builds == 2
    rebuilt, _ = registry.current()
    assert (rebuilt.delta_size, len(rebuilt)) == (0, 45)


def test_a_deleted_subject_leaves_the_answers_without_a_rebuild(
    registry: RegistryIndex,
) -> None:
    _, shown = registry.current()
    person_id = next(sid for sid, s in shown.items() if s.kind == "individual")
    party = Party(PEOPLE[90 % 6], "individual", birth_date="1980-05-17")
    index, _ = registry.current()
    assert person_id in {c.subject_id for c in index.search(party, top=5)}
    with transaction(registry.factory) as session:
        assert delete_persons(session, [person_id])["subjects"] == 1
    registry.expire()
    index, _ = registry.current()
    assert person_id not in {c.subject_id for c in index.search(party, top=5)}
    assert registry.settle(timeout=60)
    assert registry.builds == 1  # skipped in the base, not rebuilt
    assert len(index) == 40
    # A second look with nothing deleted since does not read the ids again.
    registry.expire()
    assert registry.current()[0] is index


# Property: a layered index answers as a fresh index of the same subjects. Registries
# of at most 18 entries, so every entry sharing a key with a query is compared in
# both (no candidate is cut) and the answers must be equal, scores included.
NAMES = st.one_of(
    st.builds(
        lambda c, w, t: f"{c}{w}{t}有限公司", *(st.sampled_from(x) for x in (CITIES, WORDS, TRADES))
    ),
    # Two words of its own: the words' rarity weighs them (``matching``).
    st.builds(
        lambda w, t: f"{' '.join(w)} {t} Co., Ltd.",
        st.lists(st.sampled_from(LATIN), min_size=1, max_size=2, unique=True),
        st.sampled_from(("Shipping", "Trading", "Electronics")),
    ),
)
ENTRY = st.one_of(
    st.builds(lambda n: Party(n, "legal_entity"), NAMES),
    st.builds(
        lambda n, d: Party(n, "individual", birth_date=d),
        st.sampled_from(PEOPLE),
        st.sampled_from(("1980-05-17", "1990-11-30")),
    ),
)


def _firms(*names: str) -> list[Party]:
    return [Party(f"{n} Co., Ltd.", "legal_entity") for n in names]


@example(  # a renamed entry's old word no longer counts in the word's rarity
    base=_firms("Canglan Huaxin Trading", "Canglan Xinghe Trading", "Huaxin Shipping"),
    added=[],
    changes={3: _firms("Jinqiao Shipping")[0]},
    queries=["Canglan Huaxin Trading Co., Ltd."],
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.lists(ENTRY, min_size=1, max_size=12),
    added=st.lists(ENTRY, max_size=6),
    changes=st.dictionaries(st.integers(1, 12), st.one_of(st.none(), ENTRY), max_size=4),
    queries=st.lists(st.one_of(NAMES, st.sampled_from(PEOPLE + WORDS)), min_size=1, max_size=5),
)
def test_layered_answers_equal_a_fresh_index(
    base: list[Party],
    added: list[Party],
    changes: dict[int, Party | None],
    queries: list[str],
) -> None:
    held = dict(enumerate(base, start=1))
    changes = {sid: p for sid, p in changes.items() if sid in held}  # None: deleted
    new = {len(base) + i: p for i, p in enumerate(added, start=1)}
    delta = {sid: p for sid, p in changes.items() if p is not None} | new
    now = {sid: p for sid, p in held.items() if sid not in changes} | delta
    layered = LayeredIndex(
        ScreeningIndex.build(held.items()),
        ScreeningIndex.build(sorted(delta.items())),
        superseded=list(changes),
    )
    full = ScreeningIndex.build(sorted(now.items()))
    assert len(layered) == len(full)
    for name in queries:
        for persons in (True, False):
            got = layered.search(Party(name), top=5, persons=persons)
            want = full.search(Party(name), top=5, persons=persons)
            assert [(c.subject_id, c.score, c.decision) for c in got] == [
                (c.subject_id, c.score, c.decision) for c in want
            ]
