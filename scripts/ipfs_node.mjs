// An organisation's IPFS node: Helia with a filesystem repository, libp2p over TCP in a private
// network (a Kubo swarm.key), answering the subset of Kubo's RPC API that ledger/store/kubo.py
// speaks, so a production organisation can run Kubo with the same key instead.
// Run it with `node --import ./scripts/promise_with_resolvers.mjs scripts/ipfs_node.mjs --help`.
import { readFileSync, mkdirSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { parseArgs } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { unixfs } from '@helia/unixfs'
import { CarBlockIterator } from '@ipld/car'
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createHeliaLight } from 'helia'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { createUnsafe } from 'multiformats/block'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { openRepo } from './ipfs_repo.mjs'

const { values: opt } = parseArgs({ options: {
  dir: { type: 'string' }, 'swarm-key': { type: 'string' },
  host: { type: 'string', default: '127.0.0.1' }, 'api-host': { type: 'string', default: '127.0.0.1' },
  'api-port': { type: 'string', default: '5001' }, 'swarm-port': { type: 'string', default: '4001' },
  peer: { type: 'string', multiple: true, default: [] }, 'peers-file': { type: 'string' },
  'fetch-timeout-s': { type: 'string', default: '10' }, 'redial-s': { type: 'string', default: '5' },
  help: { type: 'boolean' }
} })
if (opt.help || !opt.dir || !opt['swarm-key']) {
  console.error('usage: ipfs_node.mjs --dir DIR --swarm-key FILE [--host 127.0.0.1] [--api-host 127.0.0.1] [--api-port 5001]\n' +
    '  [--swarm-port 4001] [--peer /ip4/H/tcp/P/p2p/ID ...] [--peers-file FILE] [--fetch-timeout-s 10] [--redial-s 5]')
  process.exit(opt.help ? 0 : 2)
}
// An aborted cat leaves rejected promises inside bitswap: log them rather than die of them.
process.on('unhandledRejection', (err) => console.error('unhandled rejection:', err))
const fetchTimeoutMs = Number(opt['fetch-timeout-s']) * 1000

// The allow-list: configured peers (command line, and a file re-read so peers can change without a
// restart), the peering set the gateway keeps from the on-chain directory (Kubo's `swarm peering`),
// plus those an operator connects to over the API. Nothing else is dialled or let in.
const connected = new Set()
const peering = new Map() // peer id -> multiaddr, as `swarm/peering/add` gave it
function configuredPeers () {
  let lines = []
  try { lines = opt['peers-file'] ? readFileSync(opt['peers-file'], 'utf8').split('\n') : [] } catch {}
  const peers = [...connected, ...peering.values()]
  for (const line of [...opt.peer, ...lines].map((l) => l.trim())) {
    if (!line || line.startsWith('#')) continue
    try { peers.push(multiaddr(line)) } catch { console.error(`ignoring peer ${line}: not a multiaddr`) }
  }
  return peers
}
const part = (ma, ...names) => ma.getComponents().find((c) => names.includes(c.name))?.value
const peerIdOf = (ma) => part(ma, 'p2p')
const hostPort = (ma) => `${part(ma, 'ip4', 'ip6', 'dns4', 'dns6', 'dns')}:${part(ma, 'tcp')}`
const allowedIds = () => new Set(configuredPeers().map(peerIdOf))
const allowedAddrs = () => new Set(configuredPeers().map(hostPort))
const connectionGater = {
  denyDialMultiaddr: (ma) => !allowedAddrs().has(hostPort(ma)),
  denyDialPeer: (id) => !allowedIds().has(id.toString()),
  denyInboundEncryptedConnection: (id) => !allowedIds().has(id.toString()),
  denyOutboundEncryptedConnection: (id) => !allowedIds().has(id.toString())
}

mkdirSync(opt.dir, { recursive: true })
// Blocks, pins and the peer key (a stable peer id) in LevelDB: scripts/ipfs_repo.mjs says why.
const helia = withBitswap(withLibp2pLight(createHeliaLight(await openRepo(opt.dir)), {
  addresses: { listen: [`/ip4/${opt.host}/tcp/${opt['swarm-port']}`] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  connectionProtector: preSharedKey({ psk: readFileSync(opt['swarm-key']) }),
  connectionGater,
  peerDiscovery: [], // no bootstrap list, mDNS, DHT, relay, autoNAT or UPnP: only configured peers
  services: { identify: identify() }
}))
await helia.start()
const fs = unixfs(helia)
const libp2p = helia.libp2p

// Like Kubo's Peering: keep a connection to every configured peer, re-dialling lost ones; and close
// any connection to a peer no longer allowed (a suspended organisation's node), so bitswap with it
// stops at once rather than at its next reconnect.
async function redial () {
  const allowed = allowedIds()
  for (const c of libp2p.getConnections()) {
    if (!allowed.has(c.remotePeer.toString())) await c.close().catch(() => c.abort(new Error('peer no longer allowed')))
  }
  const open = new Set(libp2p.getConnections().map((c) => c.remotePeer.toString()))
  for (const ma of configuredPeers()) {
    const id = peerIdOf(ma)
    if (id && !open.has(id)) await libp2p.dial(ma, { signal: AbortSignal.timeout(5000) }).catch(() => {})
  }
}
const redialer = setInterval(redial, Number(opt['redial-s']) * 1000)
redial()

// A fetch may take long for a large file, so the timeout is on silence, not on the whole request:
// the signal aborts after fetchTimeoutMs without a block, or when the client goes away (the
// response closes before it is finished).
function idleSignal (res, ms = fetchTimeoutMs) {
  const controller = new AbortController()
  let timer
  const touch = () => { clearTimeout(timer); timer = setTimeout(() => controller.abort(), ms) }
  res.once('close', () => { clearTimeout(timer); if (!res.writableFinished) controller.abort() })
  touch()
  return { signal: controller.signal, touch, ms }
}
const notFound = (cid, ms) => new Error(`${cid} not found: no block from this node or its peers within ${ms / 1000} s`)
// Kubo's per-request `timeout` option (a Go duration: 500ms, 10s, 1m) replaces --fetch-timeout-s
// for that request; here too it bounds the wait for the next block, not the whole transfer.
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
function timeoutMs (q) {
  if (!q.has('timeout')) return fetchTimeoutMs
  const [, n, unit] = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(q.get('timeout')) ?? []
  if (!n) throw new Error(`timeout ${q.get('timeout')} is not a duration such as 10s`)
  return Number(n) * UNIT_MS[unit]
}
const parseCid = (arg) => { try { return CID.parse(arg ?? '') } catch { throw new Error(`invalid path "${arg}": not a CID`) } }
async function isPinned (cid) { try { await helia.pins.get(cid); return true } catch { return false } }
// Pinning what is pinned already is no error (as Kubo): Helia's add says so itself, which spares
// a datastore read a pin.
async function pin (cid, idle, walker) {
  try {
    for await (const _ of helia.pins.add(cid, { signal: idle.signal, walker })) idle.touch() // fetches as it walks
  } catch (err) {
    if (err?.name !== 'AlreadyPinnedError') throw err
  }
}
// A raw block has no links, so the walk of a pin is the block alone; when dag/import has just
// written it, this walker yields it from memory, where Helia's default would read it back from the
// blockstore (twice: has, then get) through a job queue of its own.
// Only while no GC has run since the block was written, though: a GC between the write and the pin
// deletes the unpinned block, and then only Helia's walk (which fetches it) may pin it.
const gcs = { started: 0, running: 0 }
const heldWalker = (bytes) => () => ({
  async * walk (cid) { yield { block: createUnsafe({ cid, bytes, codec: raw }), depth: 0, path: [cid] } }
})
const timedOut = (idle, cid, err) => { throw idle.signal.aborted ? notFound(cid, idle.ms) : err }

// Kubo's add parameters as ledger/store/kubo.py sends them (ADD_PARAMS), Kubo's defaults otherwise.
function importOptions (q) {
  const cidVersion = Number(q.get('cid-version') ?? 0)
  const [, size] = /^size-(\d+)$/.exec(q.get('chunker') ?? 'size-262144') ?? []
  if (!size) throw new Error(`chunker ${q.get('chunker')} not supported (only size-N)`)
  if ((q.get('hash') ?? 'sha2-256') !== 'sha2-256') throw new Error('only sha2-256 is supported')
  if (q.get('trickle') === 'true') throw new Error('the trickle layout is not supported')
  return {
    cidVersion,
    rawLeaves: (q.get('raw-leaves') ?? String(cidVersion === 1)) === 'true',
    chunker: fixedSize({ chunkSize: Number(size) }),
    layout: balanced({ maxChildrenPerNode: Number(q.get('max-file-links') ?? 174) })
  }
}
const formFile = async (req) => (await new Request('http://node/', {
  method: 'POST', headers: { 'content-type': req.headers['content-type'] ?? '' }, body: Readable.toWeb(req), duplex: 'half'
}).formData()).values().next().value

const commands = {
  async add (q, req, res) {
    const file = await formFile(req)
    if (!(file instanceof Blob)) throw new Error('add needs one file part')
    const bytes = new Uint8Array(await file.arrayBuffer())
    const cid = await fs.addBytes(bytes, importOptions(q))
    if (q.get('pin') !== 'false') await pin(cid, idleSignal(res))
    return { Name: file.name || cid.toString(), Hash: cid.toString(), Size: String(bytes.length) }
  },
  async cat (q, req, res) {
    const cid = parseCid(q.get('arg'))
    const idle = idleSignal(res, timeoutMs(q))
    const chunks = fs.cat(cid, { signal: idle.signal })[Symbol.asyncIterator]()
    // The first block decides the status; an error after it cuts the stream, which the client's
    // CID check then catches (Kubo sends a trailer instead).
    const first = await chunks.next().catch((err) => timedOut(idle, cid, err))
    res.writeHead(200, { 'Content-Type': 'text/plain' })
    for (let chunk = first; !chunk.done; chunk = await chunks.next()) {
      idle.touch()
      if (!res.write(chunk.value)) await new Promise((resolve) => res.once('drain', resolve))
    }
    res.end()
  },
  async 'pin/add' (q, req, res) {
    const cid = parseCid(q.get('arg'))
    const idle = idleSignal(res, timeoutMs(q))
    await pin(cid, idle).catch((err) => timedOut(idle, cid, err))
    return { Pins: [cid.toString()] }
  },
  async 'pin/rm' (q) {
    const cid = parseCid(q.get('arg'))
    if (!(await isPinned(cid))) throw new Error('not pinned or pinned indirectly')
    for await (const _ of helia.pins.rm(cid)) ;
    return { Pins: [cid.toString()] }
  },
  async 'pin/ls' (q) {
    const keys = {}
    if (q.get('arg')) {
      const cid = parseCid(q.get('arg'))
      if (!(await isPinned(cid))) throw new Error(`path '${cid}' is not pinned`)
      keys[cid.toString()] = { Type: 'recursive' }
    } else {
      for await (const p of helia.pins.ls()) keys[p.cid.toString()] = { Type: 'recursive' }
    }
    return { Keys: keys }
  },
  async id () {
    return {
      ID: libp2p.peerId.toString(),
      PublicKey: Buffer.from(publicKeyToProtobuf(libp2p.peerId.publicKey)).toString('base64'),
      Addresses: libp2p.getMultiaddrs().map(String),
      AgentVersion: `medledger-ipfs-node/${helia.info.version}`,
      Protocols: libp2p.getProtocols()
    }
  },
  async 'swarm/connect' (q) {
    const ma = multiaddr(q.get('arg') ?? '')
    const id = peerIdOf(ma)
    if (!id) throw new Error(`${ma} has no /p2p/ peer id`)
    connected.add(ma)
    const signal = AbortSignal.timeout(fetchTimeoutMs)
    const connection = await libp2p.dial(ma, { signal })
    // Connected means the peer talks to us: one that refuses us (not on its peer list) closes the
    // connection after the handshake, and a dial can return a connection the redialler opened a
    // moment before that. An identify round trip fails on such a connection.
    await libp2p.services.identify.identify(connection, { signal })
    return { Strings: [`connect ${id} success`] }
  },
  // Kubo's peering set, which the gateway keeps equal to the directory's active organisations.
  async 'swarm/peering/add' (q) {
    const ma = multiaddr(q.get('arg') ?? '')
    const id = peerIdOf(ma)
    if (!id) throw new Error(`${ma} has no /p2p/ peer id`)
    peering.set(id, ma)
    redial()
    return { ID: id, Status: 'success' }
  },
  async 'swarm/peering/rm' (q) {
    const id = q.get('arg') ?? ''
    peering.delete(id)
    for (const ma of [...connected]) if (peerIdOf(ma) === id) connected.delete(ma)
    if (!allowedIds().has(id)) await hangUp(id)
    return { ID: id, Status: 'success' }
  },
  async 'swarm/peering/ls' () {
    return { Peers: [...peering].map(([id, ma]) => ({ ID: id, Addrs: [ma.decapsulateCode(421).toString()] })) }
  },
  async 'swarm/disconnect' (q) {
    const ma = multiaddr(q.get('arg') ?? '')
    const id = peerIdOf(ma)
    if (!id) throw new Error(`${ma} has no /p2p/ peer id`)
    await hangUp(id)
    return { Strings: [`disconnect ${id} success`] }
  },
  async 'swarm/peers' () {
    const P2P = 421 // the /p2p/ protocol code: Kubo prints the address without the peer id
    return { Peers: libp2p.getConnections().map((c) => ({ Addr: c.remoteAddr.decapsulateCode(P2P).toString(), Peer: c.remotePeer.toString(), Direction: c.direction === 'inbound' ? 1 : 2 })) }
  },
  async 'repo/gc' (q, req, res) {
    const removed = []
    gcs.started++
    gcs.running++
    try {
      await helia.gc({ onProgress: (e) => { if (e.type === 'helia:gc:deleted') removed.push(e.detail) } })
    } finally {
      gcs.running--
    }
    res.writeHead(200, { 'Content-Type': 'application/json' })
    res.end(removed.map((cid) => JSON.stringify({ Key: { '/': cid.toString() } }) + '\n').join(''))
  },
  // A CAR file's blocks, each checked against its CID (sha2-256), then its roots pinned: Kubo's dag
  // import, one JSON line a root. A batch's envelopes come this way, thousands in one request, so
  // blocks are written and roots pinned a bounded number at a time rather than one after another.
  async 'dag/import' (q, req, res) {
    const file = await formFile(req)
    if (!(file instanceof Blob)) throw new Error('dag/import needs one file part')
    const car = await CarBlockIterator.fromIterable(Readable.fromWeb(file.stream()))
    const writes = new Set()
    const held = new Map() // raw blocks of this import: CID string -> bytes, for pinning them
    const gcsBefore = gcs.running === 0 ? gcs.started : -1
    for await (const { cid, bytes } of car) {
      if (cid.multihash.code !== sha256.code) throw new Error(`${cid}: only sha2-256 blocks are accepted`)
      const digest = await sha256.digest(bytes)
      if (Buffer.compare(digest.bytes, cid.multihash.bytes) !== 0) throw new Error(`block ${cid} does not match its CID`)
      const write = Promise.resolve(helia.blockstore.put(cid, bytes)).finally(() => writes.delete(write))
      writes.add(write)
      if (cid.code === raw.code) held.set(cid.toString(), bytes)
      if (writes.size >= IMPORT_CONCURRENCY) await Promise.race(writes)
    }
    await Promise.all(writes)
    const roots = await car.getRoots()
    // As Kubo: with pin-roots=false nothing is pinned and no root is reported.
    const pinning = q.get('pin-roots') === 'false' ? [] : roots
    const idle = idleSignal(res)
    const lines = new Array(pinning.length)
    let next = 0
    async function pinner () {
      for (let i = next++; i < pinning.length; i = next++) {
        let error = ''
        const bytes = gcs.started === gcsBefore && gcs.running === 0 ? held.get(pinning[i].toString()) : undefined
        await pin(pinning[i], idle, bytes && heldWalker(bytes)).then(() => idle.touch(), (err) => { error = String(err?.message ?? err) })
        lines[i] = JSON.stringify({ Root: { Cid: { '/': pinning[i].toString() }, PinErrorMsg: error } }) + '\n'
      }
    }
    await Promise.all(Array.from({ length: Math.min(IMPORT_CONCURRENCY, pinning.length) }, pinner))
    res.writeHead(200, { 'Content-Type': 'application/json' })
    res.end(lines.join(''))
  }
}
const IMPORT_CONCURRENCY = 64

async function hangUp (id) {
  for (const c of libp2p.getConnections()) if (c.remotePeer.toString() === id) await c.close().catch(() => c.abort(new Error('disconnected')))
}

// Kubo's conventions: POST only, command errors as HTTP 500 with {"Message", "Code", "Type"}.
const server = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://node/')
  const command = commands[url.pathname.replace(/^\/api\/v0\//, '')]
  if (req.method !== 'POST') return res.writeHead(405, { 'Content-Type': 'text/plain' }).end('405 - Method Not Allowed\n')
  if (!url.pathname.startsWith('/api/v0/') || !command) return res.writeHead(404, { 'Content-Type': 'text/plain' }).end('404 page not found')
  try {
    const reply = await command(url.searchParams, req, res)
    if (reply !== undefined) res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(reply) + '\n')
  } catch (err) {
    if (res.headersSent) return res.destroy()
    res.writeHead(500, { 'Content-Type': 'application/json' }).end(JSON.stringify({ Message: String(err?.message ?? err), Code: 0, Type: 'error' }))
  }
})
// The RPC API has no authentication (as Kubo's): it listens on loopback unless told otherwise,
// whatever address the swarm listens on, so the consortium's hosts reach the swarm and nothing else.
server.listen(Number(opt['api-port']), opt['api-host'], () => {
  console.error(`ipfs node ${libp2p.peerId} api http://${opt['api-host']}:${opt['api-port']} swarm ${libp2p.getMultiaddrs().join(' ')}`)
})

async function shutdown () {
  clearInterval(redialer)
  server.close()
  server.closeAllConnections()
  await helia.stop()
  process.exit(0)
}
process.once('SIGINT', shutdown)
process.once('SIGTERM', shutdown)
