"""walletim.store"""

#: The home's encrypted store, a file in the home (here, not in walletim.store.db: naming it
#: loads no schema).
DB_NAME = "walletim.db"
