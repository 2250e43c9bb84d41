// A grant (or an appointment) in the catalogue's plain words, as the patient reads it before
// signing and in the list afterwards: who, which records or category, for what purpose, until when.
import { describeGrant, type GrantDraft, type GrantOnWire } from '../../crypto'
import { t } from '../../lib/i18n'
import { formatTime } from '../../lib/time'

export interface Organisation {
  org: string
  kind: string
  usable: boolean
}

const short = (a: string) => `${a.slice(0, 6)}…${a.slice(-4)}`

export function orgName(address: string, organisations: Organisation[]): string {
  const found = organisations.find((o) => o.org.toLowerCase() === address.toLowerCase())
  const kind = found ? t(`common.kind.${found.kind}`) : t('patient.consent.unknown_org')
  return `${kind} ${short(address)}`
}

export function grantSummary(grant: GrantDraft | GrantOnWire, organisations: Organisation[]): string {
  const d = describeGrant(grant)
  const what =
    'records' in d
      ? t('patient.consent.what.record', { record: d.records.map(short).join(', ') })
      : t(`patient.consent.what.${d.category}`, { hospital: orgName(d.hospital, organisations) })
  return t('patient.consent.summary', {
    grantee: orgName(d.grantee, organisations),
    purpose: t(`patient.purpose.${d.purpose}`),
    what,
    until: formatTime(d.expiresAt, { endOfDay: true }),
  })
}

export function appointmentSummary(agent: string, kind: string, expiresAt: number): string {
  return t('patient.agents.summary', {
    agent: short(agent),
    kind: t(`patient.agents.kind.${kind}`),
    until: formatTime(expiresAt, { endOfDay: true }),
  })
}
