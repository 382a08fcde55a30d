"""Rows into session objects exactly as the ORM's populate-existing load does, for `fast_get.py`.

Why not let SQLAlchemy load them: `sqlalchemy.orm.loading.instances()` builds its row loaders again on every
execution, which for one row costs more than the query. The load is simple for the mappers our registries
have (plain columns, class-level lazy relationships, joined many-to-one ones), and this module does it step
by step as `loading._instance` does with `populate_existing=True` (what `QuerySet._fetch` asks for: a query
returns what the database holds now):

- the object in the session's identity map is reused, else a new one is made and put there;
- every column is overwritten, unflushed changes included; lazy relationships are reset (they load again
  when next used); a joined relationship gets the object loaded from the same row;
- the state is committed: not modified, not expired.

`entities()` refuses (None) any mapper with more than that: inheritance, version counters, deferred or
expression columns, other loader strategies, composite keys. Then the general path runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Mapper, Session


class Entity:
    """Where one mapped class's columns sit in a row; its properties in `mapper._prop_set` order, the order
    in which the ORM runs its populators."""

    def __init__(self, mapper: "Mapper[Any]", load_path: Any) -> None:
        self.mapper, self.manager, self.load_path = mapper, mapper.class_manager, load_path
        self.identity_class = mapper._identity_class
        self.pk_index = -1
        self.columns: list[tuple[str, int]] = []
        self.relations: list[tuple[str, Entity | None]] = []  # None: lazy, reset by a load


def _plain(mapper: "Mapper[Any]") -> bool:
    return not (
        mapper.inherits is not None or mapper.polymorphic_map or mapper.with_polymorphic or mapper.version_id_col is not None
        or mapper.always_refresh or len(mapper.primary_key) != 1 or mapper._identity_class is not mapper.class_
        or len(list(mapper.self_and_descendants)) != 1
    )


def entities(mapper: "Mapper[Any]", result_columns: list[Any]) -> Entity | None:
    """The main entity and its joined ones, with the position of each column in the rows of a compiled
    statement (`compiled._result_columns`); None if a load of these mappers is more than the above."""
    from sqlalchemy import Column
    from sqlalchemy.orm import ColumnProperty, RelationshipProperty
    from sqlalchemy.orm.strategies import ColumnLoader, JoinedLoader, LazyLoader
    from sqlalchemy.sql.selectable import Alias

    main = Entity(mapper, mapper._path_registry)
    by_table: dict[Any, Entity] = {mapper.local_table: main}
    for prop in mapper.relationships:
        if type(prop.strategy) is JoinedLoader:
            if prop.uselist or prop.mapper.local_table in by_table:
                return None
            # the path the ORM records on an object it meets twice in one result (two versions, one storage)
            by_table[prop.mapper.local_table] = Entity(prop.mapper, mapper._path_registry[prop][prop.entity])
    positions: dict[Entity, dict[str, int]] = {e: {} for e in by_table.values()}
    for idx, rc in enumerate(result_columns):
        col = next((o for o in rc[2] if isinstance(o, Column)), None)
        aliased = col is not None and isinstance(col.table, Alias)
        table = col.table.element if aliased else getattr(col, "table", None)
        ent = by_table.get(table)
        if ent is None or (ent is main) == aliased:
            return None
        prop = ent.mapper.get_property_by_column(table.c[col.key])
        if prop.key in positions[ent]:
            return None
        positions[ent][prop.key] = idx
    for ent in by_table.values():
        if not _plain(ent.mapper):
            return None
        found = positions[ent]
        for prop in ent.mapper._prop_set:
            strategy = getattr(prop, "strategy", None)
            if isinstance(prop, ColumnProperty) and type(strategy) is ColumnLoader and prop.key in found:
                ent.columns.append((prop.key, found[prop.key]))
            elif isinstance(prop, RelationshipProperty) and type(strategy) is LazyLoader and strategy.is_class_level:
                ent.relations.append((prop.key, None))
            elif ent is main and type(strategy) is JoinedLoader:
                ent.relations.append((prop.key, by_table[prop.mapper.local_table]))
            else:
                return None
        if len(found) != len(ent.columns):
            return None
        ent.pk_index = found[ent.mapper.get_property_by_column(ent.mapper.primary_key[0]).key]
    return main


def load(ent: Entity, row: list[Any], s: "Session", runid: int) -> Any:
    """One row's object (and its joined ones), as `loading._instance` makes it; `runid` is one per result."""
    pk = row[ent.pk_index]
    if pk is None:
        return None  # an outer join that found nothing
    identity = (ent.identity_class, (pk,), None)
    idmap = s.identity_map
    obj = idmap.get(identity)
    new = obj is None
    if new:
        obj = ent.manager.new_instance()
        state, dict_ = obj._sa_instance_state, obj.__dict__
        state.key, state.identity_token, state.session_id = identity, None, s.hash_key
        idmap._add_unpresent(state, identity)
    else:
        state, dict_ = obj._sa_instance_state, obj.__dict__
        if state.runid == runid:  # met earlier in this result: the ORM only notes the path it came by
            if state.load_path != ent.load_path:
                state.load_path = ent.load_path
                for key, idx in ent.columns:
                    if key not in dict_:
                        dict_[key] = row[idx]
            if any(sub is not None for _, sub in ent.relations):
                raise AssertionError("a record with joined relationships met twice in one result")  # one row each
            return obj
    state.runid = runid
    for key, idx in ent.columns:
        dict_[key] = row[idx]
    expired, callables = state.expired_attributes, state.callables
    for key, sub in ent.relations:
        if sub is not None:
            dict_[key] = load(sub, row, s, runid)
        elif not new and (key in dict_ or key in expired or key in callables):  # a new object has nothing to reset
            state._reset(dict_, key)
    state._commit_all(dict_, idmap)
    return obj
