"""The device-list parser (messaging/devices.py) raises only MessagingError, whatever a relay
or peer sends, and a valid list survives a round trip through JSON."""

from __future__ import annotations

import contextlib

# eth-account raises the recursion limit when first imported; do it before hypothesis runs.
import eth_account.messages  # noqa: F401
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import fuzz
from tests.fuzz.test_fuzz_parsers import json_values
from walletim.errors import MessagingError
from walletim.keys.signing import LocalSigner
from walletim.messaging import devices as dv

SIGNER = LocalSigner(bytes(31) + b"\x07")

entries = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["00" * 16, "ab" * 16, "zz", "", "00" * 17]) | st.text(max_size=40),
        "identity_key": st.sampled_from(["11" * 32, "22" * 32, "1" * 63]) | json_values,
        "added": st.integers(min_value=-5, max_value=2**65) | json_values,
        "name": st.text(max_size=50) | json_values,
    }
)
lists_like = st.fixed_dictionaries(
    {
        "wallet": st.sampled_from([SIGNER.address, SIGNER.address.lower(), "0x12", ""])
        | json_values,
        "version": st.integers(min_value=-2, max_value=2**65) | json_values,
        "devices": st.lists(entries, max_size=12) | json_values,
        "signature": st.sampled_from(["0x" + "00" * 65, "00" * 65, "0x"]) | json_values,
    }
)


@fuzz("fuzz messaging: device list parse", 300, 3000)
@given(json_values | lists_like)
def test_device_list_parse(doc: object) -> None:
    with contextlib.suppress(MessagingError):
        parsed = dv.DeviceList.from_json(doc)
        parsed.verify()
        assert 1 <= len(parsed.devices) <= dv.MAX_DEVICES


@fuzz("fuzz messaging: device list round trip", 50, 500)
@given(
    st.lists(
        st.tuples(st.binary(min_size=16, max_size=16), st.binary(min_size=32, max_size=32)),
        min_size=1,
        max_size=dv.MAX_DEVICES,
        unique_by=(lambda t: t[0], lambda t: t[1]),
    ),
    st.integers(min_value=1, max_value=2**64 - 1),
    st.text(max_size=dv.MAX_NAME).filter(str.isprintable),
)
def test_device_list_round_trip(keys: list[tuple[bytes, bytes]], version: int, name: str) -> None:
    devs = [dv.make_device(i, k, n, name) for n, (i, k) in enumerate(keys)]
    lst = dv.sign_device_list(SIGNER, version, devs)
    again = dv.DeviceList.from_json(lst.to_json())
    assert again == lst and again.verify()


device_bindings = st.fixed_dictionaries(
    {
        "wallet": st.sampled_from([SIGNER.address, "0x12", "", "0x" + "g" * 40]) | json_values,
        "device": st.sampled_from(["ab" * 16, "ab" * 15 + " a", "zz" * 16, "ab"]) | json_values,
    }
)


@fuzz("fuzz messaging: device bundle binding parse", 300, 3000)
@given(json_values | device_bindings)
def test_device_binding_parse(doc: object) -> None:
    """A device bundle's binding (protocol 5), as a relay or publisher sends it: read, or one
    MessagingError; what is read is what a binding of it would say."""
    from walletim.messaging import protocol

    with contextlib.suppress(MessagingError):
        wallet, dev = protocol.parse_device_binding(doc)
        assert protocol.device_binding(wallet, dev) == {"wallet": wallet, "device": dev.hex()}
