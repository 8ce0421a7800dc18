// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title An ERC-4626 vault that lies, for walletim's adversarial tests. Never deployed by
/// the devnet world.
/// @notice Its previewDeposit promises 100 times the shares a deposit mints, its
/// previewRedeem twice the assets a redemption pays, and its previewWithdraw half the shares
/// a withdrawal burns: a plan that shows only the previews tells the depositor they get (or
/// give) what they do not.
contract LyingVault is ERC4626 {
    constructor(IERC20 asset_) ERC20("Lying Vault", "lvDAI") ERC4626(asset_) {}

    function previewDeposit(uint256 assets) public view override returns (uint256) {
        return _convertToShares(assets, Math.Rounding.Floor) * 100;
    }

    function deposit(uint256 assets, address receiver) public override returns (uint256) {
        uint256 shares = _convertToShares(assets, Math.Rounding.Floor);
        _deposit(_msgSender(), receiver, assets, shares);
        return shares;
    }

    function previewWithdraw(uint256 assets) public view override returns (uint256) {
        return _convertToShares(assets, Math.Rounding.Ceil) / 2;
    }

    function withdraw(uint256 assets, address receiver, address owner) public override returns (uint256) {
        uint256 shares = _convertToShares(assets, Math.Rounding.Ceil);
        _withdraw(_msgSender(), receiver, owner, assets, shares);
        return shares;
    }

    function previewRedeem(uint256 shares) public view override returns (uint256) {
        return _convertToAssets(shares, Math.Rounding.Floor) * 2;
    }

    function redeem(uint256 shares, address receiver, address owner) public override returns (uint256) {
        uint256 assets = _convertToAssets(shares, Math.Rounding.Floor);
        _withdraw(_msgSender(), receiver, owner, assets, shares);
        return assets;
    }
}
