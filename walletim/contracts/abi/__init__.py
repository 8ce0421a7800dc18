"""Function signatures, argument encoding, return decoding, ABIs and events (pure).

Signatures are written as Foundry's ``cast`` takes them::

    balanceOf(address)(uint256)
    transfer(address to, uint256 amount) returns (bool)
    function balanceOf(address) external view returns (uint256)
    getAmountsOut(uint256,address[])(uint256[])
    f((uint256,address)[],bytes32)

Arguments come from the command line as text: addresses (a mixed-case address must carry a
valid EIP-55 checksum: cast 1.7 does not check it, walletim does), integers in decimal,
0x-hex, scientific notation (``1e18``, ``1.5e18``) or with a unit (``1.5ether``, ``20gwei``),
``true``/``false``/``1``/``0``, 0x-hex bytes (exact length for ``bytesN``), strings as given,
arrays ``[a,b]`` and tuples ``(a,b)`` (quote an element that contains a comma:
``["a,b",c]`` or ``['a,b',c]``).
Every parser raises only :class:`~walletim.errors.InputError`, naming the argument's 1-based
position and type.

:data:`WELL_KNOWN_ABIS` holds minimal hand-written ABIs (ERC-20, EIP-2612, ERC-721, ERC-4626,
WETH9, Uniswap V2 pair / factory / Router02, walletim's red packets, Aave V3's Pool);
:data:`KNOWN_ABIS` their events, for :func:`decode_log`.

The package, by meaning: :mod:`.signatures` (types and function signatures), :mod:`.encode`
(text and values to calldata), :mod:`.decode` (return data, JSON rendering, revert reasons),
:mod:`.files` (ABI files), :mod:`.events` (event signatures and :func:`decode_log`),
:mod:`.known` (the well-known ABIs). Everything is importable from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from walletim.lazy import exported, lazy_exports, reexports

if TYPE_CHECKING:
    from walletim.contracts.abi.decode import MAX_DEEP_DATA as MAX_DEEP_DATA
    from walletim.contracts.abi.decode import MAX_RETURN_DATA as MAX_RETURN_DATA
    from walletim.contracts.abi.decode import decode_output as decode_output
    from walletim.contracts.abi.decode import decode_revert as decode_revert
    from walletim.contracts.abi.decode import decode_values as decode_values
    from walletim.contracts.abi.decode import normalize as normalize
    from walletim.contracts.abi.decode import render_value as render_value
    from walletim.contracts.abi.decode import render_values as render_values
    from walletim.contracts.abi.decode import reverted as reverted
    from walletim.contracts.abi.encode import calldata as calldata
    from walletim.contracts.abi.encode import encode_args as encode_args
    from walletim.contracts.abi.encode import encode_call as encode_call
    from walletim.contracts.abi.encode import parse_value as parse_value
    from walletim.contracts.abi.events import DecodedEvent as DecodedEvent
    from walletim.contracts.abi.events import EventParam as EventParam
    from walletim.contracts.abi.events import EventSig as EventSig
    from walletim.contracts.abi.events import LogLike as LogLike
    from walletim.contracts.abi.events import decode_log as decode_log
    from walletim.contracts.abi.events import events_of_abi as events_of_abi
    from walletim.contracts.abi.events import parse_event as parse_event
    from walletim.contracts.abi.files import MAX_ABI_BYTES as MAX_ABI_BYTES
    from walletim.contracts.abi.files import abi_functions as abi_functions
    from walletim.contracts.abi.files import find_function as find_function
    from walletim.contracts.abi.files import human_abi as human_abi
    from walletim.contracts.abi.files import load_abi as load_abi
    from walletim.contracts.abi.known import AAVE_V3_POOL_ABI as AAVE_V3_POOL_ABI
    from walletim.contracts.abi.known import ERC20_ABI as ERC20_ABI
    from walletim.contracts.abi.known import ERC721_ABI as ERC721_ABI
    from walletim.contracts.abi.known import ERC2612_ABI as ERC2612_ABI
    from walletim.contracts.abi.known import ERC4626_ABI as ERC4626_ABI
    from walletim.contracts.abi.known import KNOWN_ABIS as KNOWN_ABIS
    from walletim.contracts.abi.known import REDPACKET_ABI as REDPACKET_ABI
    from walletim.contracts.abi.known import UNISWAP_V2_FACTORY_ABI as UNISWAP_V2_FACTORY_ABI
    from walletim.contracts.abi.known import UNISWAP_V2_PAIR_ABI as UNISWAP_V2_PAIR_ABI
    from walletim.contracts.abi.known import UNISWAP_V2_ROUTER02_ABI as UNISWAP_V2_ROUTER02_ABI
    from walletim.contracts.abi.known import WELL_KNOWN_ABIS as WELL_KNOWN_ABIS
    from walletim.contracts.abi.known import WETH9_ABI as WETH9_ABI
    from walletim.contracts.abi.signatures import MAX_DEPTH as MAX_DEPTH
    from walletim.contracts.abi.signatures import MAX_SIGNATURE as MAX_SIGNATURE
    from walletim.contracts.abi.signatures import AbiEntry as AbiEntry
    from walletim.contracts.abi.signatures import FunctionSig as FunctionSig
    from walletim.contracts.abi.signatures import Value as Value
    from walletim.contracts.abi.signatures import _split as _split
    from walletim.contracts.abi.signatures import _tuple_types as _tuple_types
    from walletim.contracts.abi.signatures import canonical_type as canonical_type
    from walletim.contracts.abi.signatures import dynamic_depth as dynamic_depth
    from walletim.contracts.abi.signatures import keccak as keccak
    from walletim.contracts.abi.signatures import parse_signature as parse_signature

_EXPORTS = reexports(__file__)
__getattr__ = lazy_exports(__name__, _EXPORTS)

__all__ = exported(_EXPORTS)
