#!/usr/bin/env node
// Compiles contracts/**/*.sol with the pinned solc-js (standard JSON) into one artifact per deployable
// contract plus manifest.json, byte-for-byte reproducibly, so `make check-artifacts` can diff a rebuild.
//
// Usage: node scripts/compile.mjs [--out DIR]     (default DIR: ledger/artifacts)

import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";

const GENERATED_BY = "scripts/compile.mjs";
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CONTRACTS_DIR = "contracts";
const NODE_MODULES = path.join(ROOT, "node_modules");
const IMPORT_PREFIXES = ["@openzeppelin/contracts/"];

// Settings that shape the bytecode; recorded in the manifest. `paris` keeps PUSH0 and MCOPY out, so the
// bytecode also runs on pre-Shanghai PoA clients. bytecodeHash "none" drops the metadata hash, so a
// NatSpec-only edit leaves the bytecode (and therefore existing deployments) unchanged.
const SETTINGS = {
  evmVersion: "paris",
  metadata: { bytecodeHash: "none" },
  optimizer: { enabled: true, runs: 200 },
};

function parseArgs(argv) {
  const args = { out: path.join(ROOT, "ledger", "artifacts") };
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === "--out" && i + 1 < argv.length) {
      args.out = path.resolve(argv[(i += 1)]);
    } else {
      fail(`usage: node ${GENERATED_BY} [--out DIR]  (unexpected argument: ${argv[i]})`, 2);
    }
  }
  return args;
}

function fail(message, code = 1) {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function sha256(bytes) {
  return createHash("sha256").update(bytes).digest("hex");
}

// Source unit names are repo-relative POSIX paths, the same names Python's sources_digest() uses.
function ourSources() {
  const dir = path.join(ROOT, CONTRACTS_DIR);
  return fs
    .readdirSync(dir, { recursive: true })
    .filter((name) => name.endsWith(".sol"))
    .map((name) => `${CONTRACTS_DIR}/${name.split(path.sep).join("/")}`)
    .sort();
}

// Recursively sorted keys, two-space indent, trailing newline: stable bytes across runs and machines.
function stableJson(value) {
  const sort = (v) => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === "object") {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort(v[k])]));
    }
    return v;
  };
  return `${JSON.stringify(sort(value), null, 2)}\n`;
}

function compile() {
  const raw = new Map(); // source unit name -> file bytes, for hashing exactly what the compiler read
  const read = (unit, file) => {
    const bytes = fs.readFileSync(file);
    raw.set(unit, bytes);
    return bytes.toString("utf8");
  };
  const sources = Object.fromEntries(
    ourSources().map((unit) => [unit, { content: read(unit, path.join(ROOT, unit)) }]),
  );
  if (Object.keys(sources).length === 0) fail(`no .sol files under ${CONTRACTS_DIR}/`);

  const findImports = (unit) => {
    if (!IMPORT_PREFIXES.some((p) => unit.startsWith(p)) || unit.includes("..")) {
      return { error: `import not allowed or not found: ${unit}` };
    }
    const file = path.join(NODE_MODULES, unit);
    if (!fs.existsSync(file)) return { error: `not found in node_modules: ${unit}` };
    return { contents: read(unit, file) };
  };

  const input = {
    language: "Solidity",
    sources,
    settings: {
      ...SETTINGS,
      outputSelection: {
        "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"], "": ["ast"] },
      },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));

  const problems = output.errors ?? [];
  for (const p of problems) process.stderr.write(`${p.formattedMessage ?? p.message}\n`);
  if (problems.some((p) => p.severity === "error")) fail(`compilation failed (solc ${solc.version()})`);
  return { output, raw };
}

// Interfaces, libraries and abstract contracts are not deployed, so they get no artifact.
function deployableContracts(output) {
  const found = new Map();
  for (const unit of Object.keys(output.sources).filter((u) => u.startsWith(`${CONTRACTS_DIR}/`))) {
    for (const node of output.sources[unit].ast.nodes) {
      if (node.nodeType !== "ContractDefinition" || node.contractKind !== "contract" || node.abstract) continue;
      if (found.has(node.name)) fail(`contract name ${node.name} is defined in ${found.get(node.name)} and ${unit}`);
      found.set(node.name, unit);
    }
  }
  return [...found.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
}

function removeStaleArtifacts(outDir, keep) {
  for (const name of fs.readdirSync(outDir).filter((n) => n.endsWith(".json") && !keep.has(n))) {
    const file = path.join(outDir, name);
    let generatedBy;
    try {
      generatedBy = JSON.parse(fs.readFileSync(file, "utf8")).generatedBy;
    } catch {
      continue;
    }
    if (generatedBy === GENERATED_BY) fs.unlinkSync(file);
  }
}

function main() {
  const { out } = parseArgs(process.argv.slice(2));
  const { output, raw } = compile();
  const compiler = solc.version();
  fs.mkdirSync(out, { recursive: true });

  const artifacts = {};
  for (const [name, unit] of deployableContracts(output)) {
    const contract = output.contracts[unit][name];
    const text = stableJson({
      abi: contract.abi,
      bytecode: `0x${contract.evm.bytecode.object}`,
      compiler,
      contractName: name,
      deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
      generatedBy: GENERATED_BY,
    });
    fs.writeFileSync(path.join(out, `${name}.json`), text);
    artifacts[name] = sha256(text);
  }

  const sources = Object.fromEntries(Object.keys(output.sources).map((u) => [u, sha256(raw.get(u))]));
  const manifest = { artifacts, compiler, generatedBy: GENERATED_BY, settings: SETTINGS, sources };
  fs.writeFileSync(path.join(out, "manifest.json"), stableJson(manifest));
  removeStaleArtifacts(out, new Set([...Object.keys(artifacts).map((n) => `${n}.json`), "manifest.json"]));
  process.stdout.write(`compiled ${Object.keys(artifacts).join(", ")} with solc ${compiler} into ${out}\n`);
}

main();
