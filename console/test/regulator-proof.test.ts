// The trail entries the regulator's page checks: proofs built by the Python (ledger.crypto.merkle
// over ledger.audit.access_log digests; fixtures/trail-proof.json) verify in the page, and a
// changed entry, proof or root does not.
import { readFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import { canonicalFlat, verifyEntry, type AccessEntry } from '../src/views/regulator/proof'

interface Vector {
  root: string
  items: { entry: AccessEntry; leaf_index: number; proof: string[] }[]
}
const vector = JSON.parse(readFileSync(new URL('./fixtures/trail-proof.json', import.meta.url), 'utf8')) as Vector

describe('trail entry proofs agree with the Python', () => {
  test('every entry of a five-leaf batch (salted, unsalted, non-ASCII) verifies', () => {
    expect(vector.items).toHaveLength(5)
    for (const item of vector.items) expect(verifyEntry(item.entry, item.proof, vector.root)).toBe(true)
  })

  test('a changed outcome, a wrong sibling or another root is refused', () => {
    const item = vector.items[2]!
    expect(verifyEntry({ ...item.entry, outcome: 'allowed' }, item.proof, vector.root)).toBe(false)
    const proof = [...item.proof]
    proof[0] = `0x${'00'.repeat(32)}`
    expect(verifyEntry(item.entry, proof, vector.root)).toBe(false)
    expect(verifyEntry(item.entry, item.proof, `0x${'11'.repeat(32)}`)).toBe(false)
    expect(verifyEntry(item.entry, item.proof, 'not hex')).toBe(false)
  })

  test('canonical form sorts keys and keeps nulls', () => {
    expect(canonicalFlat({ b: 1, a: null, c: 'x' })).toBe('{"a":null,"b":1,"c":"x"}')
  })
})
