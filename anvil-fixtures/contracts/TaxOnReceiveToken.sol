// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title An ERC-20 that taxes the recipient, for walletim's adversarial tests. Never
/// deployed by the devnet world.
/// @notice A transfer logs the whole amount reaching the recipient, Transfer(from -> to,
/// value), then takes `taxBps` of it back from the recipient to its deployer, logged as
/// Transfer(to -> deployer, tax): the recipient nets value - tax. A wallet that counts only
/// the payer-to-payee log says the whole amount arrived.
contract TaxOnReceiveToken {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    string public name;
    string public symbol;
    uint8 public immutable decimals;
    address public immutable collector;
    uint256 public totalSupply;
    uint256 public taxBps;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    constructor(string memory name_, string memory symbol_, uint8 decimals_) {
        name = name_;
        symbol = symbol_;
        decimals = decimals_;
        collector = msg.sender;
    }

    function setTax(uint256 taxBps_) external {
        taxBps = taxBps_;
    }

    /// @notice Anyone mints (a test token).
    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _move(msg.sender, to, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            require(allowed >= value, "allowance");
            allowance[from][msg.sender] = allowed - value;
        }
        _move(from, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function _move(address from, address to, uint256 value) private {
        require(balanceOf[from] >= value, "balance");
        balanceOf[from] -= value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
        uint256 tax = (value * taxBps) / 10000;
        if (tax != 0 && to != collector) {
            balanceOf[to] -= tax;
            balanceOf[collector] += tax;
            emit Transfer(to, collector, tax);
        }
    }
}
