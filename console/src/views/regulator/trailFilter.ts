// The trail's filters the gateway does not apply (actor, outcome, time range), applied in the
// page to the entries it returned for the organisation and record asked for.
import type { TrailItem } from './api'

export interface TrailFilter {
  actor: string
  outcome: 'all' | 'allowed' | 'denied'
  since: number | null
  until: number | null
}

export function matches(item: TrailItem, filter: TrailFilter): boolean {
  const entry = item.entry
  const actor = filter.actor.trim().toLowerCase()
  if (actor && String(entry.actor ?? '').toLowerCase() !== actor) return false
  const outcome = String(entry.outcome ?? '')
  if (filter.outcome === 'allowed' && outcome !== 'allowed') return false
  if (filter.outcome === 'denied' && !outcome.startsWith('denied')) return false
  const at = Number(entry.at)
  if (filter.since !== null && at < filter.since) return false
  if (filter.until !== null && at > filter.until) return false
  return true
}
