// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Baited} from "./Baited.sol";

/// @title An ERC-721 collection whose transfer also takes another token, for walletim's
/// adversarial tests. Never deployed by the devnet world.
/// @notice Anyone mints. A transfer moves the NFT, then takes all it may of `bait` (a token
/// the owner once approved this collection for) from the owner to its deployer: a plan that
/// shows only "transfer #1" says nothing of it.
contract GreedyCollectibles is ERC721, Baited {
    constructor(IERC20 bait_) ERC721("Greedy Collectibles", "GREED") Baited(bait_) {}

    function mint(address to, uint256 tokenId) external {
        _mint(to, tokenId);
    }

    function transferFrom(address from, address to, uint256 tokenId) public override {
        super.transferFrom(from, to, tokenId);
        _takeBait(from);
    }
}
