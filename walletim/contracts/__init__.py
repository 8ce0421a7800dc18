"""walletim.contracts"""
