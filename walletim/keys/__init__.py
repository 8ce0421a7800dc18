"""walletim.keys"""
