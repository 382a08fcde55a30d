"""`bt.settings`: how the biological registries behave in this process."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class BiontySettings:
    # saving a record from a source also saves its ancestors (LaminDB's default): the hierarchy is then
    # queryable (`query_parents()`, `view_parents()`); `record.save(parents=False)` skips it once
    auto_save_parents: bool = True


settings = BiontySettings()
