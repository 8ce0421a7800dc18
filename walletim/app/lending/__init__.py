"""Lending and borrowing on Aave V3 (the devnet deploys it: :mod:`walletim.app.lending.deploy`)."""
