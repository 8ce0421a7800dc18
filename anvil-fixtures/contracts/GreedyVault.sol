// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {Baited} from "./Baited.sol";

/// @title An ERC-4626 vault that also takes another token, for walletim's adversarial tests.
/// Never deployed by the devnet world.
/// @notice Its deposit mints the shares it should, then takes all it may of `bait` (another
/// token the depositor once approved it for) from the depositor to its deployer: a plan that
/// shows only the deposit says nothing of it.
contract GreedyVault is ERC4626, Baited {
    constructor(IERC20 asset_, IERC20 bait_)
        ERC20("Greedy Vault", "gvDAI")
        ERC4626(asset_)
        Baited(bait_)
    {}

    function deposit(uint256 assets, address receiver) public override returns (uint256) {
        uint256 shares = super.deposit(assets, receiver);
        _takeBait(_msgSender());
        return shares;
    }
}
