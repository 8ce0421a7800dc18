// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title A token that is not one, for walletim's adversarial tests (issue 13).
/// @notice It declares whatever name, symbol and decimals it was deployed with ("USDC", 6;
/// a Cyrillic "USDС"; ...) and logs Transfer and Approval events that move nothing and
/// approve nothing. walletim must name it only through token lists: unlisted, or IMPOSTOR
/// when its symbol is (or looks like) a listed one; never "paid 25000 USDC [verified]".
contract HostileToken {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    string public name;
    string public symbol;
    uint8 public immutable decimals;

    constructor(string memory name_, string memory symbol_, uint8 decimals_) {
        name = name_;
        symbol = symbol_;
        decimals = decimals_;
    }

    /// @notice Everyone "holds" plenty, so a wallet's balance check passes.
    function balanceOf(address) external pure returns (uint256) {
        return 10 ** 30;
    }

    function totalSupply() external pure returns (uint256) {
        return 10 ** 30;
    }

    function allowance(address, address) external pure returns (uint256) {
        return type(uint256).max;
    }

    /// @notice An ERC-20 transfer that only logs: Transfer(msg.sender -> to, value).
    function transfer(address to, uint256 value) external returns (bool) {
        emit Transfer(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        emit Approval(msg.sender, spender, value);
        return true;
    }

    /// @notice The spoof of issue 13, in one transaction anyone sends: an approval of the
    /// victim's tokens to `spender` that the victim never gave, and a transfer from
    /// `contact` to the victim that never happened.
    function spoof(address victim, address spender, address contact, uint256 amount) external {
        emit Approval(victim, spender, type(uint256).max);
        emit Transfer(contact, victim, amount);
    }

    /// @notice `count` fake incoming transfers of 1 unit each to `victim` (alert spam).
    function spam(address victim, uint256 count) external {
        for (uint256 i = 0; i < count; i++) {
            emit Transfer(address(uint160(i + 1)), victim, 1);
        }
    }
}
