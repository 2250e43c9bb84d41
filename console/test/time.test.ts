import { expect, test } from 'vitest'
import { formatTime, parseLocal, setUtcOffset, utcOffsetLabel } from '../src/lib/time'

test('times are shown in the configured zone with the offset written out', () => {
  setUtcOffset(480)
  // 2026-12-03 16:00 UTC is midnight in Beijing: the end of 3 December as an expiry.
  const midnight = Date.UTC(2026, 11, 3, 16, 0, 0) / 1000
  expect(formatTime(midnight)).toBe('2026-12-04 00:00 (UTC+8)')
  expect(formatTime(midnight, { endOfDay: true })).toBe('2026-12-03 24:00 (UTC+8)')
  expect(formatTime(midnight + 90, { seconds: true })).toBe('2026-12-04 00:01:30 (UTC+8)')
})

test('other offsets, and local input read in the configured zone, not the browser', () => {
  expect(utcOffsetLabel(-330)).toBe('UTC-5:30')
  setUtcOffset(480)
  expect(parseLocal('2026-12-04T00:00')).toBe(Date.UTC(2026, 11, 3, 16, 0, 0) / 1000)
  expect(parseLocal('not a time')).toBeNull()
})
