// Compile walletim's devnet fixtures with the npm `solc` (solcjs) and write deterministic
// artifacts: `node anvil-fixtures/build.mjs [OUT_DIR]` (default anvil-fixtures/artifacts).
//
// Every artifact records the exact compiler version and settings and a sha256 of every
// source file that went into it (ours and OpenZeppelin's), so a rebuild can be checked
// byte for byte against what is committed (tests/integration/test_fixtures.py).
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const outDir = resolve(process.argv[2] ?? join(here, "artifacts"));

const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "cancun",
  metadata: { bytecodeHash: "ipfs" },
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "metadata"] } },
};

const sha256 = (text) => createHash("sha256").update(text).digest("hex");

const sources = {};
for (const file of readdirSync(join(here, "contracts")).sort()) {
  if (file.endsWith(".sol")) {
    sources[`contracts/${file}`] = { content: readFileSync(join(here, "contracts", file), "utf8") };
  }
}

const read = {};
function findImports(path) {
  try {
    const content = readFileSync(join(root, "node_modules", path), "utf8");
    read[path] = content;
    return { contents: content };
  } catch {
    return { error: `not found: ${path}` };
  }
}

const input = { language: "Solidity", sources, settings: SETTINGS };
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (output.errors ?? []).filter((e) => e.severity === "error");
for (const e of output.errors ?? []) {
  if (e.severity === "error") console.error(e.formattedMessage);
}
if (errors.length) process.exit(1);

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys(value[k])]));
  }
  return value;
}

const allSources = {};
for (const [path, { content }] of Object.entries(sources)) allSources[path] = sha256(content);
for (const [path, content] of Object.entries(read)) allSources[path] = sha256(content);

mkdirSync(outDir, { recursive: true });
const written = [];
for (const [path, contracts] of Object.entries(output.contracts)) {
  if (!path.startsWith("contracts/")) continue;
  for (const [name, compiled] of Object.entries(contracts)) {
    const bytecode = compiled.evm.bytecode.object;
    if (!bytecode) continue; // interfaces and abstract contracts
    // Exactly the sources this contract is built from (its file and what it imports),
    // as solc's metadata lists them: adding another contract leaves this artifact alone.
    const deps = Object.keys(JSON.parse(compiled.metadata).sources).sort();
    const used = Object.fromEntries(deps.map((p) => [p, allSources[p]]));
    const sourceHash = sha256(Object.entries(used).map(([p, h]) => `${p}:${h}\n`).join(""));
    const artifact = sortKeys({
      contractName: name,
      sourceName: path,
      abi: compiled.abi,
      bytecode: `0x${bytecode}`,
      compiler: { name: "solc", version: solc.version() },
      settings: { optimizer: SETTINGS.optimizer, evmVersion: SETTINGS.evmVersion, metadata: SETTINGS.metadata },
      sources: used,
      sourceHash,
    });
    writeFileSync(join(outDir, `${name}.json`), `${JSON.stringify(artifact, null, 2)}\n`);
    written.push(name);
  }
}
console.log(`compiled ${written.join(", ")} with solc ${solc.version()} into ${outDir}`);
