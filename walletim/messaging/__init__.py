"""walletim.messaging"""
