// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// @title Red packets (红包): ETH or an ERC-20 escrowed into shares for chosen recipients.
/// @notice The creator escrows `total` into `shares` shares, equal or random. A share is
///         claimed by presenting a voucher: the creator's EIP-712 signature over
///         Claim{packetId, claimer}, which walletim delivers inside the encrypted chat. Each
///         address claims at most once; after `expiry` the creator takes back what is left.
///         A claimer with no ETH for gas can have anyone submit the claim (`claimFor`): the
///         claimer signs SponsoredClaim{packetId, claimer, deadline} (EIP-712, this chain and
///         this contract in the domain); the share goes to the claimer, never to the sender,
///         who pays the gas and gains nothing. A claim is paid once, however it is submitted.
///         Random shares use block.prevrandao: fun, not fair against block producers (nor
///         against a sponsor choosing its block before the claimer's deadline).
/// @dev    Ownerless, with no constructor arguments and no immutables: deployed through the
///         deterministic deployment proxy (CREATE2) it has the same address and the same
///         runtime code on every chain, so a wallet recognises it by address and code hash.
///         That is why the EIP-712 domain separator is computed on each use (OpenZeppelin's
///         EIP712 caches it, with the chain id, in immutables).
contract RedPacket is ReentrancyGuard {
    using SafeERC20 for IERC20;

    struct Packet {
        address creator;
        address token; // address(0): ETH
        uint256 total;
        uint256 remaining;
        uint32 shares;
        uint32 sharesLeft;
        bool random;
        uint64 expiry;
    }

    bytes32 public constant CLAIM_TYPEHASH = keccak256("Claim(bytes32 packetId,address claimer)");
    bytes32 public constant SPONSORED_CLAIM_TYPEHASH =
        keccak256("SponsoredClaim(bytes32 packetId,address claimer,uint256 deadline)");
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    string private constant NAME = "walletim RedPacket";
    string private constant VERSION = "1";
    uint32 public constant MAX_SHARES = 1000;

    mapping(bytes32 => Packet) public packets;
    mapping(bytes32 => mapping(address => uint256)) public claimedAmount;
    mapping(bytes32 => mapping(address => bool)) public claimed;

    event Created(
        bytes32 indexed id,
        address indexed creator,
        address token,
        uint256 total,
        uint32 shares,
        bool random,
        uint64 expiry
    );
    event Claimed(bytes32 indexed id, address indexed claimer, uint256 amount);
    event Refunded(bytes32 indexed id, address indexed creator, uint256 amount);

    /// @notice The EIP-712 domain separator of vouchers on this chain.
    function DOMAIN_SEPARATOR() public view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256(bytes(NAME)), keccak256(bytes(VERSION)), block.chainid, address(this))
        );
    }

    /// @notice ERC-5267: the voucher domain's fields (name, version, chain id, this contract).
    function eip712Domain()
        external
        view
        returns (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        )
    {
        return (hex"0f", NAME, VERSION, block.chainid, address(this), bytes32(0), new uint256[](0));
    }

    /// @notice The id a packet of `creator` made with `salt` gets.
    function packetId(address creator, bytes32 salt) public pure returns (bytes32) {
        return keccak256(abi.encode(creator, salt));
    }

    /// @notice Escrow `total` (ETH as msg.value, or an approved ERC-20) into `shares` shares.
    function create(bytes32 salt, address token, uint256 total, uint32 shares, bool random, uint64 expiry)
        external
        payable
        nonReentrant
        returns (bytes32 id)
    {
        id = packetId(msg.sender, salt);
        require(packets[id].creator == address(0), "RedPacket: id in use");
        require(shares > 0 && shares <= MAX_SHARES, "RedPacket: 1 to 1000 shares");
        require(total >= shares, "RedPacket: less than one unit per share");
        require(expiry > block.timestamp, "RedPacket: expiry in the past");
        if (token == address(0)) {
            require(msg.value == total, "RedPacket: value must equal total");
        } else {
            require(msg.value == 0, "RedPacket: ETH sent with a token packet");
            uint256 before = IERC20(token).balanceOf(address(this));
            IERC20(token).safeTransferFrom(msg.sender, address(this), total);
            require(IERC20(token).balanceOf(address(this)) - before == total, "RedPacket: token took a fee");
        }
        packets[id] = Packet(msg.sender, token, total, total, shares, shares, random, expiry);
        emit Created(id, msg.sender, token, total, shares, random, expiry);
    }

    /// @notice Claim one share with the creator's voucher for msg.sender.
    function claim(bytes32 id, bytes calldata voucher) external nonReentrant returns (uint256 amount) {
        return _claim(id, msg.sender, voucher);
    }

    /// @notice Claim one share for `claimer`, who signed SponsoredClaim{id, claimer, deadline}:
    ///         anyone may submit it and pay the gas; the share is paid to `claimer`.
    function claimFor(bytes32 id, address claimer, bytes calldata voucher, uint256 deadline, bytes calldata claimerSig)
        external
        nonReentrant
        returns (uint256 amount)
    {
        require(block.timestamp <= deadline, "RedPacket: claim signature expired");
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(SPONSORED_CLAIM_TYPEHASH, id, claimer, deadline)));
        require(ECDSA.recover(digest, claimerSig) == claimer, "RedPacket: not the claimer's signature");
        return _claim(id, claimer, voucher);
    }

    /// @notice The EIP-712 digest a claimer signs to have `claimFor` submitted by anyone.
    function sponsoredClaimDigest(bytes32 id, address claimer, uint256 deadline) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(SPONSORED_CLAIM_TYPEHASH, id, claimer, deadline)));
    }

    function _claim(bytes32 id, address claimer, bytes calldata voucher) private returns (uint256 amount) {
        Packet storage p = packets[id];
        require(p.creator != address(0), "RedPacket: no such packet");
        require(block.timestamp <= p.expiry, "RedPacket: expired");
        require(!claimed[id][claimer], "RedPacket: already claimed");
        require(p.sharesLeft > 0, "RedPacket: all shares are claimed");
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(CLAIM_TYPEHASH, id, claimer)));
        require(ECDSA.recover(digest, voucher) == p.creator, "RedPacket: not authorised");
        amount = _share(p, id, claimer);
        p.sharesLeft -= 1;
        p.remaining -= amount;
        claimed[id][claimer] = true;
        claimedAmount[id][claimer] = amount;
        _pay(p.token, claimer, amount);
        emit Claimed(id, claimer, amount);
    }

    /// @notice After expiry, the creator takes back whatever was not claimed.
    function refund(bytes32 id) external nonReentrant returns (uint256 amount) {
        Packet storage p = packets[id];
        require(p.creator != address(0), "RedPacket: no such packet");
        require(msg.sender == p.creator, "RedPacket: not the creator");
        require(block.timestamp > p.expiry, "RedPacket: not expired yet");
        amount = p.remaining;
        require(amount > 0, "RedPacket: nothing left to refund");
        p.remaining = 0;
        p.sharesLeft = 0;
        _pay(p.token, p.creator, amount);
        emit Refunded(id, p.creator, amount);
    }

    /// @notice The EIP-712 digest a voucher for `claimer` signs.
    function voucherDigest(bytes32 id, address claimer) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(CLAIM_TYPEHASH, id, claimer)));
    }

    function _hashTypedDataV4(bytes32 structHash) private view returns (bytes32) {
        return MessageHashUtils.toTypedDataHash(DOMAIN_SEPARATOR(), structHash);
    }

    function _share(Packet storage p, bytes32 id, address claimer) private view returns (uint256) {
        if (p.sharesLeft == 1) return p.remaining;
        if (!p.random) return p.remaining / p.sharesLeft;
        // "Double average": 1 .. 2x the average of what is left, leaving 1 unit per other share.
        uint256 average = p.remaining / p.sharesLeft;
        uint256 pick = uint256(keccak256(abi.encode(block.prevrandao, id, claimer, p.sharesLeft)));
        uint256 amount = pick % (2 * average) + 1;
        uint256 cap = p.remaining - (p.sharesLeft - 1);
        return amount > cap ? cap : amount;
    }

    function _pay(address token, address to, uint256 amount) private {
        if (token == address(0)) {
            (bool ok,) = to.call{value: amount}("");
            require(ok, "RedPacket: ETH transfer failed");
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
    }
}
