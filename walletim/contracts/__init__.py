"""walletim.contracts: the pure contract core (values in, values out; no RPC, no files).

- :mod:`~walletim.contracts.abi`: cast-style signatures, arguments from command-line text,
  return values, ABI files and the well-known ABIs, event logs.
- :mod:`~walletim.contracts.describe`: calldata -> the one line a user confirms, with flags.
- :mod:`~walletim.contracts.typed_data`: what a permit / Permit2 EIP-712 payload allows.
"""
