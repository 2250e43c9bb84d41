// The regulator page's own helpers: trail filters (actor, outcome, time range) and reason codes in evidence.
import { describe, expect, test } from 'vitest'
import type { TrailItem } from '../src/views/regulator/api'
import { matches, type TrailFilter } from '../src/views/regulator/trailFilter'

const item = (actor: string, outcome: string, at: number): TrailItem => ({
  org: '0x01',
  chain_batch_id: 1,
  leaf_index: 0,
  root: '0x',
  proof: [],
  entry: { at, actor, outcome, action: 'GET /v1/records/{record_id}' },
})
const any: TrailFilter = { actor: '', outcome: 'all', since: null, until: null }

describe('trail filters', () => {
  const a = item('0xAbC', 'allowed', 100)
  const d = item('0xdef', 'denied:consent.not_granted', 200)

  test('actor matches case-insensitively, whole address only', () => {
    expect(matches(a, { ...any, actor: '0xabc' })).toBe(true)
    expect(matches(a, { ...any, actor: '0xab' })).toBe(false)
  })

  test('outcome: allowed, or any refusal', () => {
    expect([a, d].filter((i) => matches(i, { ...any, outcome: 'denied' }))).toEqual([d])
    expect([a, d].filter((i) => matches(i, { ...any, outcome: 'allowed' }))).toEqual([a])
  })

  test('time range is inclusive at both ends', () => {
    expect([a, d].filter((i) => matches(i, { ...any, since: 100, until: 150 }))).toEqual([a])
    expect([a, d].filter((i) => matches(i, { ...any, since: 200 }))).toEqual([d])
  })
})

describe('reason codes in evidence', async () => {
  const { decodeCode } = await import('../src/views/regulator/evidence')
  test('a left-aligned ASCII code in a bytes32 is read back; anything else is not', () => {
    const code = (text: string) =>
      `0x${[...text].map((c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('').padEnd(64, '0')}`
    expect(decodeCode(code('no-emergency-found'))).toBe('no-emergency-found')
    expect(decodeCode(`0x${'00'.repeat(32)}`)).toBe(null)
    expect(decodeCode(`0x${'ab'.repeat(32)}`)).toBe(null)
    expect(decodeCode('0x1234')).toBe(null)
  })
})
