#!/usr/bin/env python3
"""Run walletim from a checkout: ``python cli.py wallet list``."""

from walletim.cli import main

if __name__ == "__main__":
    main()
