// Times as people read them: in the gateway's configured zone, with the offset written out
// ("2026-12-03 24:00 (UTC+8)"), never Unix seconds.

let offsetMinutes = 480 // replaced by the gateway's /v1/console/config at start

export function setUtcOffset(minutes: number): void {
  offsetMinutes = minutes
}

export function utcOffsetLabel(minutes: number = offsetMinutes): string {
  const sign = minutes < 0 ? '-' : '+'
  const abs = Math.abs(minutes)
  const hours = Math.floor(abs / 60)
  const rest = abs % 60
  return `UTC${sign}${hours}${rest ? `:${String(rest).padStart(2, '0')}` : ''}`
}

const pad = (n: number) => String(n).padStart(2, '0')

/** ``unixSeconds`` in the configured zone. ``endOfDay``: a local midnight is the end of the day
 *  before ("2026-12-03 24:00"), as expiries and validity are written in China. */
export function formatTime(
  unixSeconds: number,
  opts: { endOfDay?: boolean; seconds?: boolean } = {},
): string {
  let local = new Date((unixSeconds + offsetMinutes * 60) * 1000)
  let hours = local.getUTCHours()
  const minutes = local.getUTCMinutes()
  const secs = local.getUTCSeconds()
  if (opts.endOfDay && hours === 0 && minutes === 0 && secs === 0) {
    local = new Date(local.getTime() - 1000)
    hours = 24
  }
  const date = `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}`
  const clock = `${pad(hours)}:${pad(hours === 24 ? 0 : minutes)}${opts.seconds ? `:${pad(hours === 24 ? 0 : secs)}` : ''}`
  return `${date} ${clock} (${utcOffsetLabel()})`
}

/** A local date and time typed by a person ("2026-12-31T18:00" from <input type=datetime-local>)
 *  as Unix seconds, read in the configured zone (not the browser's). */
export function parseLocal(value: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(value)
  if (!m) return null
  const [, y, mo, d, h, mi] = m.map(Number) as number[]
  return Date.UTC(y!, mo! - 1, d!, h!, mi!) / 1000 - offsetMinutes * 60
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000)
}
