"""waitbus-store: the durable SQLite event log every waitbus process shares.

Names load on first use (PEP 562): `waitbus emit` needs the store but not retention,
and every millisecond of import is paid by every short-lived producer.
"""

from __future__ import annotations

from waitbus_wire import lazy_exports

from ._dirs import DB_NAME as DB_FILENAME

TYPE_CHECKING = False  # not `from typing import ...`: keeps producers' start-up cheap
if TYPE_CHECKING:
    from ._dirs import (
        DOORBELL_NAME,
        Dirs,
        UnsafeRuntimeDir,
        UnsafeStateDir,
        check_private_dir,
        ensure_dirs,
        open_private,
        resolve_dirs,
        runtime_dir,
        state_dir,
    )
    from ._doorbell import MAX_CARRY, RING, carried, carry
    from ._entity import EntityBoard, EntityKeys, EntityState, entity_key, entity_of, looks_failed, state_of
    from ._errors import ConfigError, StoreBaseError
    from ._identity import bus_id
    from ._jsonfile import write_json_atomic
    from ._logfile import LOG_BACKUPS, LOG_FILE_ENV, LOG_MAX_BYTES, bound_log, bound_log_from_env
    from ._paths import PathError, Paths, resolve_paths
    from ._peer import ForeignPeer, check_peer, peer_pid, peer_uid
    from ._reader import Reader, TypeSummary, open_reader
    from ._retention import PruneResult, plan_prune, prune
    from ._row import Row
    from ._schema import APPLICATION_ID, SCHEMA_VERSION, SchemaError
    from ._secrets import SecretsError, read_secrets
    from ._store import InsertResult, Store, StoreError, connect_readonly, explain, schema_status


# public name -> private module
_WHERE = {
    "MAX_CARRY": "._doorbell",
    "RING": "._doorbell",
    "carried": "._doorbell",
    "carry": "._doorbell",
    "Dirs": "._dirs",
    "ConfigError": "._errors",
    "DOORBELL_NAME": "._dirs",
    "ensure_dirs": "._dirs",
    "resolve_dirs": "._dirs",
    "runtime_dir": "._dirs",
    "state_dir": "._dirs",
    "bus_id": "._identity",
    "StoreBaseError": "._errors",
    "PathError": "._dirs",
    "UnsafeRuntimeDir": "._dirs",
    "UnsafeStateDir": "._dirs",
    "check_private_dir": "._dirs",
    "open_private": "._dirs",
    "ForeignPeer": "._peer",
    "check_peer": "._peer",
    "peer_pid": "._peer",
    "peer_uid": "._peer",
    "Paths": "._paths",
    "LOG_BACKUPS": "._logfile",
    "LOG_FILE_ENV": "._logfile",
    "LOG_MAX_BYTES": "._logfile",
    "bound_log": "._logfile",
    "bound_log_from_env": "._logfile",
    "EntityBoard": "._entity",
    "EntityKeys": "._entity",
    "EntityState": "._entity",
    "entity_key": "._entity",
    "entity_of": "._entity",
    "looks_failed": "._entity",
    "state_of": "._entity",
    "Reader": "._reader",
    "TypeSummary": "._reader",
    "open_reader": "._reader",
    "resolve_paths": "._paths",
    "PruneResult": "._retention",
    "plan_prune": "._retention",
    "prune": "._retention",
    "APPLICATION_ID": "._schema",
    "SCHEMA_VERSION": "._schema",
    "SchemaError": "._schema",
    "SecretsError": "._secrets",
    "read_secrets": "._secrets",
    "InsertResult": "._store",
    "Row": "._row",
    "Store": "._store",
    "StoreError": "._store",
    "connect_readonly": "._store",
    "write_json_atomic": "._jsonfile",
    "explain": "._store",
    "schema_status": "._store",
}

__all__ = [
    "APPLICATION_ID",
    "MAX_CARRY",
    "RING",
    "carried",
    "carry",
    "ConfigError",
    "DB_FILENAME",
    "DOORBELL_NAME",
    "Dirs",
    "ForeignPeer",
    "EntityBoard",
    "EntityKeys",
    "EntityState",
    "SCHEMA_VERSION",
    "InsertResult",
    "LOG_BACKUPS",
    "LOG_FILE_ENV",
    "LOG_MAX_BYTES",
    "PathError",
    "Paths",
    "PruneResult",
    "Reader",
    "Row",
    "SchemaError",
    "SecretsError",
    "Store",
    "StoreBaseError",
    "StoreError",
    "UnsafeRuntimeDir",
    "UnsafeStateDir",
    "check_peer",
    "check_private_dir",
    "bound_log",
    "bound_log_from_env",
    "bus_id",
    "TypeSummary",
    "connect_readonly",
    "ensure_dirs",
    "open_private",
    "peer_pid",
    "peer_uid",
    "entity_key",
    "explain",
    "entity_of",
    "looks_failed",
    "open_reader",
    "plan_prune",
    "prune",
    "read_secrets",
    "resolve_dirs",
    "resolve_paths",
    "runtime_dir",
    "schema_status",
    "state_dir",
    "state_of",
    "write_json_atomic",
]


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
