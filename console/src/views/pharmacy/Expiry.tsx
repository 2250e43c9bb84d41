// A prescription's expiry as it is written at a counter: the chain keeps the last valid second
// (23:59:59 local, ledger/prescribing/validity.py), read as "valid until 24:00" of that day.
import { formatTime } from '../../lib/time'

export function expiryText(expiresAt: number): string {
  const lastSecond = / 23:59:59 /.test(formatTime(expiresAt, { seconds: true }))
  return lastSecond ? formatTime(expiresAt + 1, { endOfDay: true }) : formatTime(expiresAt)
}

export function Expiry(props: { at: number }) {
  return <time dateTime={new Date(props.at * 1000).toISOString()}>{expiryText(props.at)}</time>
}
