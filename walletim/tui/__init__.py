"""The terminal app (``walletim app``): a live messenger with money inside, on Textual.

A front end beside walletim.cli: it calls the Python API (walletim.app) and nothing below it
imports this package. Textual is imported only when the app runs (``walletim --help`` and
every other command stay fast): import :mod:`walletim.tui.app` to use it.
"""
