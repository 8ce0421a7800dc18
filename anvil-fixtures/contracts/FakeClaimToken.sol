// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title A HOSTILE test token: its transfer() also emits RedPacket's `Claimed` event.
/// @notice For walletim's adversarial tests only (never deployed by the devnet world). A red
///         packet of this token pays its claimer through transfer(), so the claim's receipt
///         holds a `Claimed(id, claimer, amount)` log with the red-packet event's exact
///         signature, but from this token's address and with any amount the attacker chose.
///         A client must only count the red-packet contract's own log.
contract FakeClaimToken is ERC20 {
    event Claimed(bytes32 indexed id, address indexed claimer, uint256 amount);

    bytes32 public fakeId;
    uint256 public fakeAmount;

    constructor() ERC20("Fake Claim Token", "FCT") {}

    /// @notice Anyone mints (a test token).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice What the next transfers claim to have paid: `Claimed(id, to, amount)`;
    ///         id 0 names no packet (then the transfer's recipient's packet is not known).
    function setFake(bytes32 id, uint256 amount) external {
        fakeId = id;
        fakeAmount = amount;
    }

    function transfer(address to, uint256 value) public override returns (bool) {
        if (fakeAmount != 0) emit Claimed(fakeId, to, fakeAmount);
        return super.transfer(to, value);
    }
}
