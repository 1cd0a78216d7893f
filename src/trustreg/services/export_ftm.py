"""FollowTheMoney entities of the open-data rows (see ``services.export``).

A subject becomes a Company (legal entity), Organization (other organisation),
LegalEntity (foreign entity) or Person; an open list entry and a published record each
become a Sanction whose ``entity`` is the subject. Ids are stable across exports:
``trustreg-subject-{id}``, ``trustreg-record-{id}`` and
``trustreg-listing-{list}-{subject}-{entered_on}``.
"""

from __future__ import annotations

from followthemoney import model
from followthemoney.proxy import EntityProxy

from trustreg.core.rulebook import Rulebook
from trustreg.core.vocabulary import PERSON_KINDS
from trustreg.services.export_files import Row

# How the rows join several list or record-type codes in one cell.
SEPARATOR = "; "
# FollowTheMoney schema per subject kind.
FTM_SCHEMAS = {
    "legal_entity": "Company",
    "other_org": "Organization",
    "foreign_entity": "LegalEntity",
    "individual": "Person",
    "foreign_individual": "Person",
}
# Organisation identifiers by scheme, as FollowTheMoney names them; person identifiers
# are masked, so they go to notes, where no screening tool matches on them as numbers.
FTM_IDENTIFIERS = {"uscc": "registrationNumber", "registry": "registrationNumber", "lei": "leiCode"}
# Record categories whose negative records are actions of a regulator (tax office,
# market regulator). Court enforcement is not; none of them is a crime or a sanction.
REGULATORY_CATEGORIES = frozenset({"tax", "penalty", "business_status"})


def ftm_subject(row: Row, rulebook: Rulebook) -> EntityProxy:
    """A subject row as a Company, Organization, LegalEntity or Person, with topics."""
    entity = model.make_entity(FTM_SCHEMAS[row["kind"]])
    entity.id = f"trustreg-subject-{row['subject_id']}"
    entity.add("name", row["name"])
    entity.add("country", row["country"])
    scheme, _, value = row["identifier"].partition(":")
    if row["kind"] in PERSON_KINDS:
        if value:
            entity.add("notes", f"{scheme} (masked): {value}")
    else:
        entity.add(FTM_IDENTIFIERS.get(scheme, "idNumber"), value or None)
        entity.add("address", row["region"])
    entity.add("topics", sorted(_topics(row, rulebook)))
    return entity


def _topics(row: Row, rulebook: Rulebook) -> set[str]:
    """``debarment`` for a blacklist that excludes from a decision, ``reg.warn`` for a
    watchlist, ``reg.action`` for a regulator's negative record. No ``sanction`` and no
    ``crime.*``: a credit record is neither a sanctions designation nor a conviction."""
    topics: set[str] = set()
    for code in filter(None, row["lists"].split(SEPARATOR)):
        listed = rulebook.lists.get(code)
        if listed is None:
            continue
        if listed.kind == "blacklist":
            excludes = any(c.effect == "excluded" for c in listed.consequences)
            topics.add("debarment" if excludes else "reg.action")
        elif listed.kind == "watchlist":
            topics.add("reg.warn")
    for code in filter(None, row["record_types"].split(SEPARATOR)):
        rule = rulebook.record_types.get(code)
        if rule and rule.polarity == "negative" and rule.category in REGULATORY_CATEGORIES:
            topics.add("reg.action")
    return topics


def ftm_listing(row: Row) -> EntityProxy:
    """An open list entry as a Sanction on its subject (the program is the list)."""
    entity = model.make_entity("Sanction")
    entity.id = f"trustreg-listing-{row['list_code']}-{row['subject_id']}-{row['entered_on']}"
    entity.add("entity", f"trustreg-subject-{row['subject_id']}")
    entity.add("program", row["list_title"])
    entity.add("programId", row["list_code"])
    entity.add("reason", row["legal_basis"])
    entity.add("listingDate", row["entered_on"].isoformat())
    entity.add("startDate", row["entered_on"].isoformat())
    entity.add("endDate", row["scheduled_exit"].isoformat())
    entity.add("summary", row["records"])
    return entity


def ftm_record(row: Row) -> EntityProxy:
    """A published record as a Sanction: the authority's decision under its legal basis."""
    entity = model.make_entity("Sanction")
    entity.id = f"trustreg-record-{row['record_id']}"
    entity.add("entity", f"trustreg-subject-{row['subject_id']}")
    entity.add("authority", row["authority"])
    entity.add("authorityId", row["reference"])
    entity.add("program", row["title"])
    entity.add("programId", row["record_type"])
    entity.add("provisions", row["legal_basis"])
    entity.add("date", row["decided_on"].isoformat())
    entity.add("startDate", row["effective_from"].isoformat())
    entity.add("endDate", row["publicity_end"].isoformat())
    entity.add("status", row["status"])
    return entity
