"""walletim.store"""
