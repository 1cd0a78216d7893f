"""What the feed appliers hand back to the import loop for one chunk."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


class Rejection(NamedTuple):
    """A rejected row: its number, the field at fault, the reason, and the row as read."""

    row: int
    field: str
    reason: str
    raw: str


@dataclass
class ChunkOutcome:
    """What a feed's apply function did with one chunk."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    # Subjects whose records changed: re-evaluated in the chunk's transaction.
    subjects: set[int] = field(default_factory=set)
    # Those of them created in this chunk (no stored assessment or list entry yet).
    new_subjects: set[int] = field(default_factory=set)

    def reject(self, row: int, field: str, reason: str, raw: str) -> None:
        self.rejections.append(Rejection(row, field, reason, raw))
