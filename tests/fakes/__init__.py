"""In-memory stand-ins for walletim's adapters, for the services' unit tests (real-process
tests use Anvil and a relay)."""
