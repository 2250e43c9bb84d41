// The IPFS node half of bench/memory_probe.py, loaded with `--import` (NODE_OPTIONS) and active
// only in scripts/ipfs_node.mjs while MEDLEDGER_MEMPROBE_DIR is set: for each request file
// `node-<label>.want` it writes `node-<label>.json`, process.memoryUsage() before and after a full
// GC (the node runs with --expose-gc) and V8's heap statistics.
import { readdirSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import v8 from 'node:v8'

const folder = process.env.MEDLEDGER_MEMPROBE_DIR
if (folder && process.argv.some((arg) => arg.endsWith('ipfs_node.mjs'))) {
  setInterval(() => {
    for (const name of readdirSync(folder)) {
      const [, label] = /^node-(.+)\.want$/.exec(name) ?? []
      if (!label) continue
      unlinkSync(join(folder, name))
      const before = process.memoryUsage()
      globalThis.gc?.()
      const report = { before, after: process.memoryUsage(), heap: v8.getHeapStatistics() }
      writeFileSync(join(folder, `node-${label}.json`), JSON.stringify(report))
    }
  }, 300).unref()
}
