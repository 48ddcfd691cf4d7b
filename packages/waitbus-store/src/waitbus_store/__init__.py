"""waitbus-store: the durable SQLite event log every waitbus process shares."""

from ._paths import PathError, Paths, resolve_paths
from ._retention import PruneResult, plan_prune, prune
from ._schema import APPLICATION_ID, SCHEMA_VERSION, SchemaError
from ._store import InsertResult, Row, Store, StoreError, connect_readonly, schema_status

DB_FILENAME = "events.db"

__all__ = [
    "APPLICATION_ID",
    "DB_FILENAME",
    "SCHEMA_VERSION",
    "InsertResult",
    "PathError",
    "Paths",
    "PruneResult",
    "Row",
    "SchemaError",
    "Store",
    "StoreError",
    "connect_readonly",
    "plan_prune",
    "prune",
    "resolve_paths",
    "schema_status",
]
