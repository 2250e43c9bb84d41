#!/usr/bin/env node
// One EthereumJS client (pinned @ethereumjs/client 0.10.5) as a Clique signer of a small network,
// with two fixes to how it spreads blocks. Takes the client's own command-line flags.
//
// Why: unpatched, three signers on loopback peer but fork for good within a minute
// (docs/operations.md, "The local multi-node network"):
//  1. A node sends a new block whole to floor(sqrt(peers)) peers and only its hash to the rest,
//     and it ignores announced hashes unless a sync is under way. With two or three peers that
//     is one peer: some signers never hear of some blocks, seal their own at that height, and stay
//     on that fork.
//  2. The sync loop picks a peer to sync from by the total difficulty the peer reported in its
//     handshake, never updated; so once a node is past that, it never syncs again and never
//     leaves a lighter fork.
//  3. eth_estimateGas fails on every Clique chain: it runs the call in a pending block built
//     without Clique's 97-byte extraData, which the block constructor refuses. And where it does
//     run, it returns a number for a call that reverts, where geth answers the revert.
//  4. It cannot run contract code on a Clique chain at all. Its EVM refuses to start without a
//     function that names a block's signer (for COINBASE), and the client never gives it one; and
//     its miner runs each transaction in a draft block without Clique's extraData, which the
//     block constructor refuses, so every transaction is skipped. Empty blocks are all it seals.
//  5. Its miner indexes a sealed block's receipts before the block is stored; a receipt asked for
//     in between is an internal error ("value ... not found in DB") instead of null (not yet).
//  6. Its miner schedules the next block from an async handler that clears the pending timer
//     before an await and sets a new one after it; two chain updates close together leave a stale
//     timer that fires early, so the signer seals a block stamped less than a period after its
//     parent, which every node (itself included) rejects, and the transactions in it leave the
//     pool with it. A signer holding transactions kept losing its turns that way.
//  7. Its miner can start a block on a parent it has imported but not yet executed (right after a
//     reorganisation); the missing state throws out of a timer, and the client shuts down.
//  8. Its pool forgets a mined transaction only for blocks it sealed or fetched in a sync, never
//     for blocks that peers announce (with fix 1, nearly all). A mined transaction left behind
//     has a nonce below its sender's, and block building skips every transaction of a sender
//     whose lowest pooled nonce is not the account's: that sender's later transactions wait
//     there for ever. After one signer stopped, no write of an organisation got mined.
//  9. Not a bug, a policy this network does not want: transactions relayed by peers must pay at
//     least 0.1 gwei (a constant), so a gas-free transaction stays with the node it was sent to
//     and waits for that signer's turn. Besu consortia set min-gas-price=0; so do we.
// 10. It seals with no peers. A block sealed before the signer peered is never relayed, and the sync
//     fetches only heights past its own, never a sibling at the same height: three signers that
//     each sealed block 1 before peering stayed on three forks (each may not extend its own block).
// The fixes, as geth behaves: relay a valid new block whole to every peer that lacks it, with its
// total difficulty; record a peer's head and total difficulty from each NewBlock it sends; and
// estimate gas in a pending block with Clique's extraData, answering a revert as eth_call does;
// give the EVM the block library's own Clique signer recovery, and the miner's draft block an
// unsigned Clique extraData (the seal it signs at the end replaces it, as before); and answer
// null for a receipt whose block is not stored yet; keep one assembly timer, the latest asked for;
// let a failed block assembly be retried instead of stopping the client; seal only with a peer
// (a restarted signer syncs first, as geth's does); and drop from the pool
// the transactions whose nonce the chain has passed before choosing a block's transactions.
// Nothing else in the client changes; consensus rules (EIP-225) are the client's own.

import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'

const require = createRequire(import.meta.url)
const clientRoot = dirname(require.resolve('@ethereumjs/client/package.json'))
const src = (path) => pathToFileURL(join(clientRoot, 'dist', 'esm', path)).href

const { version } = require('@ethereumjs/client/package.json')
if (version !== '0.10.5') {
  // The patches below are written against this version's internals.
  console.error(`clique_node.mjs: expected @ethereumjs/client 0.10.5, found ${version}`)
  process.exit(2)
}

const { FullSynchronizer } = await import(src('src/sync/fullsync.js'))
const { FullEthereumService } = await import(src('src/service/fullethereumservice.js'))
const { Config } = await import(src('src/config.js'))
const { Miner } = await import(src('src/miner/miner.js'))
const { TxPool } = await import(src('src/service/txpool.js'))
const { Eth } = await import(src('src/rpc/modules/eth.js'))
const { getBlockByOption } = await import(src('src/rpc/helpers.js'))
// The client's own dependencies (one flat, pinned copy in node_modules, as it imports them).
const { VMExecution } = await import(src('src/execution/vmexecution.js'))
const { cliqueSigner, createBlock } = await import('@ethereumjs/block')
const { ConsensusAlgorithm, Hardfork } = await import('@ethereumjs/common')
const { createTx } = await import('@ethereumjs/tx')
const {
  Address,
  bytesToHex,
  createAddressFromString,
  createZeroAddress,
  equalsBytes,
  hexToBytes,
} = await import('@ethereumjs/util')
const { BlockBuilder, runTx } = await import('@ethereumjs/vm')

// Our own flags, taken out of argv before the client parses it.
function takeFlag(name, fallback) {
  const at = process.argv.findIndex((a) => a === name || a.startsWith(`${name}=`))
  if (at < 0) return fallback
  const [arg] = process.argv.splice(at, 1)
  const raw = arg.includes('=') ? arg.split('=')[1] : process.argv.splice(at, 1)[0]
  const value = Number.parseInt(raw, 10)
  if (!Number.isInteger(value) || value < 0) {
    console.error(`clique_node.mjs: ${name} takes a whole number, not ${raw}`)
    process.exit(2)
  }
  return value
}

const CLIQUE_EXTRA_BYTES = 32 + 65 // vanity + seal, no signer list off epoch blocks

const toBigInt = (value) =>
  typeof value === 'bigint'
    ? value
    : BigInt(`0x${Buffer.from(value).toString('hex') || '0'}`)

// Fix 1: every peer gets a valid new block whole, with the total difficulty it brings.
const handleNewBlock = FullSynchronizer.prototype.handleNewBlock
FullSynchronizer.prototype.handleNewBlock = async function (block, peer) {
  const { header } = block
  if (header.number <= this.chain.headers.height + 1n) {
    let td
    try {
      await this.chain.blockchain.validateHeader(header)
      const parentTd = await this.chain.blockchain.getTotalDifficulty(
        header.parentHash,
        header.number - 1n,
      )
      td = parentTd + header.difficulty
    } catch {
      td = undefined // invalid or unknown parent: the client's own handler decides, relays nothing
    }
    if (td !== undefined) {
      if (peer) this.addToKnownByPeer(block.hash(), peer)
      for (const other of this.pool.peers) {
        if (!this.addToKnownByPeer(block.hash(), other)) other.eth?.send('NewBlock', [block, td])
      }
    }
  }
  // Every peer now knows the block, so the client's handler sends nothing more: it inserts the
  // block if it extends our head, as before.
  return handleNewBlock.call(this, block, peer)
}

// Fix 2: a NewBlock we could not put on our head (a fork, or a gap) tells us the sender's head and
// total difficulty; remember both, so the sync loop picks the heaviest peer and, through the
// blockchain's own fork choice, moves onto its chain. Blocks that extend our head need no sync.
const handleEth = FullEthereumService.prototype.handleEth
FullEthereumService.prototype.handleEth = async function (message, peer) {
  const result = await handleEth.call(this, message, peer)
  if (message.name === 'NewBlock' && peer.eth?.status !== undefined) {
    const [block, rawTd] = message.data
    const td = toBigInt(rawTd)
    const onOurHead = equalsBytes(this.chain.blocks.latest.hash(), block.hash())
    if (!onOurHead && td > this.chain.blocks.td && td > peer.eth.status.td) {
      peer.eth.status.td = td
      peer.eth.status.bestHash = block.hash()
      peer.eth.updatedBestHeader = block.header
    }
  }
  return result
}

// Fix 6: the last scheduling call wins, and its timer is the only one. The delay is the client's:
// the time left to parent timestamp + period, plus EIP-225's rand(SIGNERS * 500 ms) out of turn.
const queueNextAssembly = Miner.prototype.queueNextAssembly
Miner.prototype.queueNextAssembly = async function (timeout) {
  const common = this.config.chainCommon
  const height = this.service.chain.headers.height
  const nextHardfork = common.getHardforkBy({ blockNumber: height + 1n })
  if (
    common.consensusAlgorithm() !== ConsensusAlgorithm.Clique ||
    common.hardforkGteHardfork(nextHardfork, Hardfork.Paris)
  ) {
    return queueNextAssembly.call(this, timeout) // not Clique, or the merge: the client's way
  }
  const ticket = (this._medledgerTicket = (this._medledgerTicket ?? 0) + 1)
  clearTimeout(this._nextAssemblyTimeoutId)
  if (!this.running) return
  let delay = timeout ?? this.period
  const [signer] = this.config.accounts[0]
  const { consensus } = this.service.chain.blockchain
  const number = this.service.chain.blocks.latest.header.number + 1n
  if ((await consensus.cliqueSignerInTurn(signer, number)) === false) {
    delay += Math.random() * consensus.cliqueActiveSigners(number).length * 500
  }
  if (ticket !== this._medledgerTicket || !this.running) return // a later call has scheduled
  clearTimeout(this._nextAssemblyTimeoutId)
  this._nextAssemblyTimeoutId = setTimeout(this.assembleBlock.bind(this), delay)
}

// Fix 7: an assembly that fails is logged and tried again shortly, as geth's worker does.
// Fix 10: no sealing without a peer. A block sealed before its signer has peered is never relayed
// (fix 1 relays a block when it is new), and the client's sync only fetches heights past its own:
// a sibling at the same height is never fetched. Three signers that each sealed block 1 before
// peering sat on three forks for good, each unable to extend its own block (EIP-225's recent-signer
// rule). A restarted signer likewise syncs before it seals. `--sealWithPeers N` (ours, default 1).
const SEAL_WITH_PEERS = takeFlag('--sealWithPeers', 1)
const assembleBlock = Miner.prototype.assembleBlock
Miner.prototype.assembleBlock = async function () {
  if (this.service.pool.size < SEAL_WITH_PEERS) {
    void this.queueNextAssembly(250)
    return
  }
  try {
    return await assembleBlock.call(this)
  } catch (error) {
    this.assembling = false
    this.config.logger?.warn(`Miner: could not assemble a block (${error?.message ?? error}); retrying`)
    void this.queueNextAssembly(500)
  }
}

// Fix 8: before the miner picks transactions, forget those the chain already holds (their nonce is
// below their sender's on the parent state), as geth's pool resets on every new head.
const txsByPriceAndNonce = TxPool.prototype.txsByPriceAndNonce
TxPool.prototype.txsByPriceAndNonce = async function (vm, opts) {
  for (const [address, pooled] of [...this.pool]) {
    const account = await vm.stateManager.getAccount(new Address(hexToBytes(`0x${address}`)))
    const nonce = account?.nonce ?? 0n
    for (const { hash, tx } of pooled) {
      if (tx.nonce < nonce) this.removeByHash(hash, tx)
    }
  }
  return txsByPriceAndNonce.call(this, vm, opts)
}

// Policy 9: a zero-price transaction from a peer is checked as one sent to us is (the client's
// check for local transactions: everything but the minimum price and the pool quotas).
const validate = TxPool.prototype.validate
TxPool.prototype.validate = async function (tx, isLocalTransaction = false) {
  const zeroPrice = this.txGasPrice(tx).maxFee === 0n
  return validate.call(this, tx, isLocalTransaction || zeroPrice)
}

// Not a fix, a setting the command line lacks: after a fork the client re-fetches this many blocks
// below the peer's head (100 by default, and at every sync). Clique forks here are a block or two.
Config.SAFE_REORG_DISTANCE = 16

// Fix 4: the EVM learns how to recover a Clique block's signer; every copy of the VM (for calls,
// estimates and block building) inherits it from these options.
const setupMerkleVM = VMExecution.prototype.setupMerkleVM
VMExecution.prototype.setupMerkleVM = async function () {
  await setupMerkleVM.call(this)
  const opts = this.merkleVM?.evm._optsCached
  if (opts !== undefined && this.config.execCommon.consensusAlgorithm() === ConsensusAlgorithm.Clique) {
    opts.cliqueSigner ??= cliqueSigner
  }
}

const addTransaction = BlockBuilder.prototype.addTransaction
BlockBuilder.prototype.addTransaction = async function (tx, opts) {
  const clique = this.vm.common.consensusAlgorithm() === ConsensusAlgorithm.Clique
  if (clique && (this.headerData.extraData ?? new Uint8Array()).length < CLIQUE_EXTRA_BYTES) {
    this.headerData.extraData = new Uint8Array(CLIQUE_EXTRA_BYTES)
  }
  return addTransaction.call(this, tx, opts)
}

// Fix 3: estimate in a well-formed pending block; a reverting call is an error with its data.
Eth.prototype.estimateGas = async function (params) {
  const [transaction, blockOpt] = params
  const parent = await getBlockByOption(blockOpt ?? 'latest', this._chain)
  const vm = await this._vm.shallowCopy()
  await vm.stateManager.setStateRoot(parent.header.stateRoot)
  const gasLimit = transaction.gas ?? (await this._chain.getCanonicalHeadHeader()).gasLimit
  const clique = vm.common.consensusAlgorithm() === ConsensusAlgorithm.Clique
  const pending = createBlock(
    {
      header: {
        parentHash: parent.hash(),
        number: parent.header.number + 1n,
        timestamp: parent.header.timestamp + 1n,
        gasLimit: parent.header.gasLimit,
        extraData: clique ? new Uint8Array(CLIQUE_EXTRA_BYTES) : undefined,
        baseFeePerGas: parent.common.isActivatedEIP(1559)
          ? parent.header.calcNextBaseFee()
          : undefined,
      },
    },
    { common: vm.common, setHardfork: true },
  )
  vm.common.setHardforkBy({
    timestamp: pending.header.timestamp,
    blockNumber: pending.header.number,
  })
  const tx = createTx({ ...transaction, gasLimit }, { common: vm.common, freeze: false })
  const from =
    transaction.from !== undefined ? createAddressFromString(transaction.from) : createZeroAddress()
  tx.getSenderAddress = () => from
  const { totalGasSpent, execResult } = await runTx(vm, {
    tx,
    skipNonce: true,
    skipBalance: true,
    skipBlockGasLimitValidation: true,
    block: pending,
  })
  if (execResult.exceptionError !== undefined) {
    throw {
      code: 3,
      data: bytesToHex(execResult.returnValue),
      message: execResult.exceptionError.error,
    }
  }
  return `0x${totalGasSpent.toString(16)}`
}

// Fix 5: a receipt indexed before its block is stored is not there yet.
const getTransactionReceipt = Eth.prototype.getTransactionReceipt
Eth.prototype.getTransactionReceipt = async function (params) {
  try {
    return await getTransactionReceipt.call(this, params)
  } catch (error) {
    if (/not found in DB/.test(String(error?.message ?? error))) return null
    throw error
  }
}

await import(src('bin/cli.js'))
