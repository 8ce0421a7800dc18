"""walletim.store"""

#: The home's encrypted store, a file in the home (here, not in walletim.store.db: naming it
#: loads no schema).
DB_NAME = "walletim.db"
#: The number of the store's newest migration (``PRAGMA user_version`` of an up-to-date store):
#: a store already at it opens without loading the migrations (walletim.store.schema, which
#: must end at this number: tests/unit/test_store.py checks it). Bump it with each migration.
SCHEMA_VERSION = 24
