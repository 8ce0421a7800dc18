"""walletim.chain"""
