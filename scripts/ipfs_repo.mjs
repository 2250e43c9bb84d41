// The node's repository: blocks and datastore (pins, the peer key) in LevelDB, one database each.
//
// Why not the file stores Helia's examples use: with blockstore-fs and datastore-fs every block
// is a file and every pin record another (Helia keeps a record per pinned block and one per pin),
// so a batch of 10,000 envelopes is some 30,000 file creations. Measured on this 2-core machine,
// 3,000 envelope-sized blocks stored and pinned 16 at a time: 294 + 1,047 us of CPU a block with the
// file stores, 93 + 347 us with LevelDB
// (node --import ./scripts/promise_with_resolvers.mjs scripts/ipfs_repo.mjs --bench 3000).
//
// A repository the file stores wrote (blocks/, datastore/) is copied into LevelDB once, on the first
// start after the change, and the old folders are kept beside it as blocks.fs/ and datastore.fs/.
import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LevelBlockstore } from 'blockstore-level'
import { FsBlockstore } from 'blockstore-fs'
import { LevelDatastore } from 'datastore-level'
import { FsDatastore } from 'datastore-fs'

export async function openRepo (dir) {
  const blockstore = new LevelBlockstore(join(dir, 'blocks.level'))
  const datastore = new LevelDatastore(join(dir, 'datastore.level'))
  await blockstore.open()
  await datastore.open()
  await migrateFileStores(dir, blockstore, datastore)
  return { blockstore, datastore }
}

async function migrateFileStores (dir, blockstore, datastore) {
  const oldBlocks = join(dir, 'blocks')
  const oldDatastore = join(dir, 'datastore')
  if (existsSync(oldDatastore)) {
    const fsDatastore = new FsDatastore(oldDatastore)
    await fsDatastore.open()
    for await (const { key, value } of fsDatastore.query({})) await datastore.put(key, value)
    await fsDatastore.close()
    renameSync(oldDatastore, `${oldDatastore}.fs`)
  }
  if (existsSync(oldBlocks)) {
    const fsBlockstore = new FsBlockstore(oldBlocks)
    await fsBlockstore.open()
    for await (const { cid, bytes } of fsBlockstore.getAll()) await blockstore.put(cid, await whole(bytes))
    await fsBlockstore.close()
    renameSync(oldBlocks, `${oldBlocks}.fs`)
  }
}

// A block read back may be bytes or an iterable of chunks, by store version.
async function whole (bytes) {
  if (bytes instanceof Uint8Array) return bytes
  const parts = []
  for await (const part of bytes) parts.push(part)
  return Buffer.concat(parts)
}

// `scripts/ipfs_repo.mjs --bench N` (with the import above): the figures above, file stores against LevelDB.
if (process.argv[2] === '--bench') {
  const { createHeliaLight } = await import('helia')
  const { CID } = await import('multiformats/cid')
  const { sha256 } = await import('multiformats/hashes/sha2')
  const raw = await import('multiformats/codecs/raw')
  const n = Number(process.argv[3] ?? 3000)
  for (const kind of ['file stores', 'LevelDB']) {
    const dir = mkdtempSync(join(tmpdir(), 'ipfs-repo-bench-'))
    const stores = kind === 'LevelDB'
      ? await openRepo(dir)
      : { blockstore: new FsBlockstore(join(dir, 'b')), datastore: new FsDatastore(join(dir, 'd')) }
    const helia = createHeliaLight(stores)
    await helia.start()
    const blocks = []
    for (let i = 0; i < n; i++) {
      const bytes = new TextEncoder().encode(`{"envelope":${i},"pad":"${'x'.repeat(700)}"}`)
      blocks.push([CID.createV1(raw.code, await sha256.digest(bytes)), bytes])
    }
    const start = process.cpuUsage()
    await Promise.all(blocks.map(([cid, bytes]) => helia.blockstore.put(cid, bytes)))
    const put = process.cpuUsage(start)
    let next = 0
    await Promise.all(Array.from({ length: 16 }, async () => {
      for (let i = next++; i < n; i = next++) for await (const _ of helia.pins.add(blocks[i][0])) ;
    }))
    const all = process.cpuUsage(start)
    const us = (u) => ((u.user + u.system) / n).toFixed(0)
    console.log(`${kind}: ${n} blocks, CPU a block: put ${us(put)} us, pin ${((all.user + all.system - put.user - put.system) / n).toFixed(0)} us`)
    await helia.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}
