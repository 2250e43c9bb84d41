// The node's repository: blocks and datastore (pins, the peer key) in LevelDB, one database each.
//
// Why not the file stores Helia's examples use: with blockstore-fs and datastore-fs every block
// is a file and every pin record another (Helia keeps a record per pinned block and one per pin),
// so a batch of 10,000 envelopes is some 30,000 file creations. Measured on this 2-core machine,
// 3,000 envelope-sized blocks stored and pinned 16 at a time: 294 + 1,047 us of CPU a block with the
// file stores, 93 + 347 us with LevelDB, 97-126 + 232-247 us with the datastore below in front of
// it (node --import ./scripts/promise_with_resolvers.mjs scripts/ipfs_repo.mjs --bench 3000).
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
  return { blockstore, datastore: new GroupCommitDatastore(datastore) }
}

// Helia keeps two datastore records a pinned block (the pin and the block's pin count), written
// one put at a time: a batch of 10,000 envelopes is 20,000 LevelDB writes, each its own trip to
// the native thread pool. This store sends every put and delete made while a commit is under way,
// or in the same turn of the event loop, to LevelDB as one batch, one commit at a time (so a later
// write of a key never lands before an earlier one). A write's promise settles when its batch is
// written, as before; until then get and has answer from the pending writes, and a query first
// waits for them, so readers see the same order of events as with one put at a time.
export class GroupCommitDatastore {
  #store
  #pending = new Map() // key string -> { key, value } (value undefined: a delete)
  #next = null // the commit that will take the pending writes, once scheduled
  #tail = Promise.resolve() // the commit last started

  constructor (store) { this.#store = store }

  put (key, value) { return this.#write(key, value).then(() => key) }
  delete (key) { return this.#write(key, undefined) }
  async get (key) {
    const value = this.#read(key)
    // The name is what Helia and libp2p test for; the class lives in a package we do not import.
    if (value === undefined) throw Object.assign(new Error('Not Found'), { name: 'NotFoundError' })
    return value
  }

  async has (key) { return this.#read(key) !== undefined }

  // Reads are synchronous LevelDB gets on LevelDatastore's own database (its public `db`, keyed
  // by the key's string, as LevelDatastore keys it): this datastore is small (pins, peers, the
  // key) and held in LevelDB's cache, and two of the three reads a pin makes find nothing, so a
  // trip through the thread pool cost more than the read (dag/import: 240 to 210 us of CPU a
  // record, bench/node_import.py).
  #read (key) {
    const pending = this.#pending.get(key.toString())
    return pending === undefined ? this.#store.db.getSync(key.toString()) : pending.value
  }

  async * putMany (source) { for await (const { key, value } of source) yield await this.put(key, value) }
  async * getMany (source) { for await (const key of source) yield { key, value: await this.get(key) } }
  async * deleteMany (source) { for await (const key of source) { await this.delete(key); yield key } }
  batch () {
    const writes = []
    return {
      put: (key, value) => { writes.push([key, value]) },
      delete: (key) => { writes.push([key, undefined]) },
      commit: () => Promise.all(writes.map(([key, value]) => this.#write(key, value)))
    }
  }

  async * query (q, options) { await this.#settled(); yield * this.#store.query(q, options) }
  async * queryKeys (q, options) { await this.#settled(); yield * this.#store.queryKeys(q, options) }
  async open () { await this.#store.open() }
  async close () { await this.#settled(); await this.#store.close() }

  #write (key, value) {
    this.#pending.set(key.toString(), { key, value })
    if (this.#next === null) {
      this.#next = this.#tail.then(() => new Promise((resolve) => setImmediate(resolve))).then(() => this.#commit())
      this.#tail = this.#next.catch(() => {})
    }
    return this.#next
  }

  async #commit () {
    this.#next = null
    const writes = [...this.#pending.values()]
    const batch = this.#store.batch()
    for (const { key, value } of writes) value === undefined ? batch.delete(key) : batch.put(key, value)
    try {
      await batch.commit()
    } finally {
      // A key written again since this batch was taken stays pending: its newer value is next.
      for (const write of writes) if (this.#pending.get(write.key.toString()) === write) this.#pending.delete(write.key.toString())
    }
  }

  // Every pending write belongs to the commit last scheduled or to one before it.
  #settled () { return this.#tail }
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
