"""walletim.app"""
