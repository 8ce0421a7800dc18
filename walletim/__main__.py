"""``python -m walletim``: the same command line as ``walletim`` (for a venv whose scripts
directory is not on PATH)."""

from walletim.cli import main

main()
