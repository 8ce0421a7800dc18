// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title An ERC-20 with the oddities real tokens have, for walletim's adversarial tests.
/// @notice Never deployed by the devnet world. Its owner switches on, one at a time or
/// together: a fee taken on every transfer (burned, logged as a Transfer to address 0), a
/// transfer that returns false without moving anything, a transfer/approve that returns
/// nothing (USDT), an approve that refuses to change a non-zero allowance except to 0
/// (USDT), a balanceOf that lies, a decimals() that reverts, a bytes32 symbol().
contract OddToken {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    string public name;
    string private _symbol;
    uint8 private _decimals;
    uint256 public totalSupply;
    mapping(address => uint256) private _balances;
    mapping(address => mapping(address => uint256)) public allowance;

    uint256 public feeBps; // taken from every transfer and burned
    bool public returnsFalse; // transfer/transferFrom return false, move nothing
    bool public returnsNothing; // transfer/transferFrom/approve return no data (USDT)
    bool public approveZeroFirst; // approve from non-zero to non-zero reverts (USDT)
    bool public decimalsReverts;
    bool public symbolBytes32;
    uint256 public balanceBonus; // added to every balanceOf answer (a lie)

    constructor(string memory name_, string memory symbol_, uint8 decimals_) {
        name = name_;
        _symbol = symbol_;
        _decimals = decimals_;
    }

    function setOdd(
        uint256 feeBps_,
        bool returnsFalse_,
        bool returnsNothing_,
        bool approveZeroFirst_,
        bool decimalsReverts_,
        bool symbolBytes32_,
        uint256 balanceBonus_
    ) external {
        feeBps = feeBps_;
        returnsFalse = returnsFalse_;
        returnsNothing = returnsNothing_;
        approveZeroFirst = approveZeroFirst_;
        decimalsReverts = decimalsReverts_;
        symbolBytes32 = symbolBytes32_;
        balanceBonus = balanceBonus_;
    }

    /// @notice Anyone mints (a test token).
    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        _balances[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function decimals() external view returns (uint8) {
        require(!decimalsReverts, "no decimals");
        return _decimals;
    }

    function symbol() external view returns (string memory) {
        if (symbolBytes32) {
            bytes32 word = bytes32(bytes(_symbol));
            assembly {
                mstore(0, word)
                return(0, 32)
            }
        }
        return _symbol;
    }

    function balanceOf(address who) external view returns (uint256) {
        return _balances[who] + balanceBonus;
    }

    function transfer(address to, uint256 value) external returns (bool) {
        return _answer(_move(msg.sender, to, value));
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        if (returnsFalse) return _answer(false);
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            require(allowed >= value, "allowance");
            allowance[from][msg.sender] = allowed - value;
        }
        return _answer(_move(from, to, value));
    }

    function approve(address spender, uint256 value) external returns (bool) {
        if (approveZeroFirst) {
            require(value == 0 || allowance[msg.sender][spender] == 0, "approve 0 first");
        }
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return _answer(true);
    }

    function _move(address from, address to, uint256 value) private returns (bool) {
        if (returnsFalse) return false;
        require(_balances[from] >= value, "balance");
        uint256 fee = (value * feeBps) / 10000;
        _balances[from] -= value;
        _balances[to] += value - fee;
        totalSupply -= fee;
        emit Transfer(from, to, value - fee);
        if (fee != 0) emit Transfer(from, address(0), fee);
        return true;
    }

    function _answer(bool ok) private view returns (bool) {
        if (returnsNothing) {
            assembly {
                return(0, 0)
            }
        }
        return ok;
    }
}
