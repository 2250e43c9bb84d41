// An access entry of the consortium's trail, checked in the page: its leaf as the organisations'
// logs compute it (keccak256(keccak256(sha256(JCS(entry))))) and its Merkle proof against the
// batch root the chain anchored (OpenZeppelin's sorted-pair verification), as
// ledger/audit/access_log.py and ledger/crypto/merkle.py do in Python.
import { sha256 } from '@noble/hashes/sha2.js'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js'

export type EntryValue = string | number | null
export type AccessEntry = Record<string, EntryValue>

/** RFC 8785 (JCS) for a flat object of strings, safe integers and nulls: keys sorted by UTF-16
 *  code units, values as ECMAScript's JSON.stringify writes them (which is what JCS specifies). */
export function canonicalFlat(entry: AccessEntry): string {
  const keys = Object.keys(entry).sort()
  const parts = keys.map((key) => {
    const value = entry[key]
    if (typeof value === 'number' && !Number.isSafeInteger(value)) {
      throw new Error(`entry field ${key} is not a safe integer`)
    }
    return `${JSON.stringify(key)}:${JSON.stringify(value)}`
  })
  return `{${parts.join(',')}}`
}

/** The entry's leaf: an entry logged before salts has no salt field at all in its digest. */
export function entryLeaf(entry: AccessEntry): Uint8Array {
  const body: AccessEntry = { ...entry }
  if (body.salt === null || body.salt === undefined) delete body.salt
  const digest = sha256(utf8ToBytes(canonicalFlat(body)))
  return keccak_256(keccak_256(digest))
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return 0
}

function parent(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(64)
  const [low, high] = compare(a, b) < 0 ? [a, b] : [b, a]
  joined.set(low, 0)
  joined.set(high, 32)
  return keccak_256(joined)
}

const strip = (hex: string) => (hex.startsWith('0x') ? hex.slice(2) : hex)

/** Whether ``proof`` leads from the entry's leaf to ``root`` (all 0x-hex). */
export function verifyEntry(entry: AccessEntry, proof: string[], root: string): boolean {
  try {
    let node = entryLeaf(entry)
    for (const sibling of proof) node = parent(node, hexToBytes(strip(sibling)))
    return bytesToHex(node) === strip(root).toLowerCase()
  } catch {
    return false
  }
}
