// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title An ERC-20 that taxes the recipient, for walletim's adversarial tests. Never
/// deployed by the devnet world.
/// @notice A transfer logs the whole amount reaching the recipient, Transfer(from -> to,
/// value), then takes `taxBps` of it back from the recipient to its deployer, logged as
/// Transfer(to -> deployer, tax): the recipient nets value - tax. A wallet that counts only
/// the payer-to-payee log says the whole amount arrived.
contract TaxOnReceiveToken is ERC20 {
    uint8 private immutable _decimals;
    address public immutable collector;
    uint256 public taxBps;

    constructor(string memory name_, string memory symbol_, uint8 decimals_) ERC20(name_, symbol_) {
        _decimals = decimals_;
        collector = msg.sender;
    }

    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    function setTax(uint256 taxBps_) external {
        taxBps = taxBps_;
    }

    /// @notice Anyone mints (a test token).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        uint256 tax = (value * taxBps) / 10000;
        if (from != address(0) && to != address(0) && to != collector && tax != 0) {
            super._update(to, collector, tax);
        }
    }
}
