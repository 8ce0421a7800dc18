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

from walletim.lazy import lazy_exports

if TYPE_CHECKING:
    from walletim.contracts.abi.decode import (
        MAX_DEEP_DATA,
        MAX_RETURN_DATA,
        decode_output,
        decode_revert,
        decode_values,
        normalize,
        render_value,
        render_values,
        reverted,
    )
    from walletim.contracts.abi.encode import (
        calldata,
        encode_args,
        encode_call,
        parse_value,
    )
    from walletim.contracts.abi.events import (
        DecodedEvent,
        EventParam,
        EventSig,
        LogLike,
        decode_log,
        events_of_abi,
        parse_event,
    )
    from walletim.contracts.abi.files import (
        MAX_ABI_BYTES,
        abi_functions,
        find_function,
        human_abi,
        load_abi,
    )
    from walletim.contracts.abi.known import (
        AAVE_V3_POOL_ABI,
        ERC20_ABI,
        ERC721_ABI,
        ERC2612_ABI,
        ERC4626_ABI,
        KNOWN_ABIS,
        REDPACKET_ABI,
        UNISWAP_V2_FACTORY_ABI,
        UNISWAP_V2_PAIR_ABI,
        UNISWAP_V2_ROUTER02_ABI,
        WELL_KNOWN_ABIS,
        WETH9_ABI,
    )
    from walletim.contracts.abi.signatures import (
        MAX_DEPTH,
        MAX_SIGNATURE,
        AbiEntry,
        FunctionSig,
        Value,
        _split,
        _tuple_types,
        canonical_type,
        dynamic_depth,
        keccak,
        parse_signature,
    )

__getattr__ = lazy_exports(
    __name__,
    {
        "walletim.contracts.abi.decode": (
            "MAX_DEEP_DATA",
            "MAX_RETURN_DATA",
            "decode_output",
            "decode_revert",
            "decode_values",
            "normalize",
            "render_value",
            "render_values",
            "reverted",
        ),
        "walletim.contracts.abi.encode": (
            "calldata",
            "encode_args",
            "encode_call",
            "parse_value",
        ),
        "walletim.contracts.abi.events": (
            "DecodedEvent",
            "EventParam",
            "EventSig",
            "LogLike",
            "decode_log",
            "events_of_abi",
            "parse_event",
        ),
        "walletim.contracts.abi.files": (
            "MAX_ABI_BYTES",
            "abi_functions",
            "find_function",
            "human_abi",
            "load_abi",
        ),
        "walletim.contracts.abi.known": (
            "AAVE_V3_POOL_ABI",
            "ERC20_ABI",
            "ERC721_ABI",
            "ERC2612_ABI",
            "ERC4626_ABI",
            "KNOWN_ABIS",
            "REDPACKET_ABI",
            "UNISWAP_V2_FACTORY_ABI",
            "UNISWAP_V2_PAIR_ABI",
            "UNISWAP_V2_ROUTER02_ABI",
            "WELL_KNOWN_ABIS",
            "WETH9_ABI",
        ),
        "walletim.contracts.abi.signatures": (
            "MAX_DEPTH",
            "MAX_SIGNATURE",
            "AbiEntry",
            "FunctionSig",
            "Value",
            "_split",
            "_tuple_types",
            "canonical_type",
            "dynamic_depth",
            "keccak",
            "parse_signature",
        ),
    },
)

__all__ = [
    "AAVE_V3_POOL_ABI",
    "ERC20_ABI",
    "ERC721_ABI",
    "ERC2612_ABI",
    "ERC4626_ABI",
    "KNOWN_ABIS",
    "MAX_ABI_BYTES",
    "MAX_DEEP_DATA",
    "MAX_DEPTH",
    "MAX_RETURN_DATA",
    "MAX_SIGNATURE",
    "REDPACKET_ABI",
    "UNISWAP_V2_FACTORY_ABI",
    "UNISWAP_V2_PAIR_ABI",
    "UNISWAP_V2_ROUTER02_ABI",
    "WELL_KNOWN_ABIS",
    "WETH9_ABI",
    "AbiEntry",
    "DecodedEvent",
    "EventParam",
    "EventSig",
    "FunctionSig",
    "LogLike",
    "Value",
    "_split",
    "_tuple_types",
    "abi_functions",
    "calldata",
    "canonical_type",
    "decode_log",
    "decode_output",
    "decode_revert",
    "decode_values",
    "dynamic_depth",
    "encode_args",
    "encode_call",
    "events_of_abi",
    "find_function",
    "human_abi",
    "keccak",
    "load_abi",
    "normalize",
    "parse_event",
    "parse_signature",
    "parse_value",
    "render_value",
    "render_values",
    "reverted",
]
