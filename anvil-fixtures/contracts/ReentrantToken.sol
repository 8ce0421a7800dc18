// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Baited} from "./Baited.sol";

/// @title An ERC-20 whose transfer calls out to take another token, for walletim's
/// adversarial tests. Never deployed by the devnet world.
/// @notice A transfer moves what it says, then calls `bait` (another token the sender once
/// approved this one for) to take all it may from the sender to its deployer: a plan that
/// shows only "transfer 5" says nothing of it.
contract ReentrantToken is ERC20, Baited {
    constructor(IERC20 bait_) ERC20("Reentrant Token", "RENT") Baited(bait_) {}

    /// @notice Anyone mints (a test token).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function transfer(address to, uint256 value) public override returns (bool) {
        super.transfer(to, value);
        _takeBait(msg.sender);
        return true;
    }
}
