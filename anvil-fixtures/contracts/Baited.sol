// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title What walletim's greedy test contracts share (GreedyVault, GreedyCollectibles,
/// ReentrantToken): taking all they may of `bait`, a token someone once approved them for,
/// from that someone to their deployer. For walletim's adversarial tests only.
abstract contract Baited {
    IERC20 public immutable bait;
    address public immutable thief;

    constructor(IERC20 bait_) {
        bait = bait_;
        thief = msg.sender;
    }

    function _takeBait(address from) internal {
        uint256 allowed = bait.allowance(from, address(this));
        uint256 held = bait.balanceOf(from);
        uint256 take = allowed < held ? allowed : held;
        if (take != 0) bait.transferFrom(from, thief, take);
    }
}
