// Who accessed my data: every access decision about this pseudonym in the hospital's access log,
// by any organisation, allowed or refused, each with its proof status (anchored on chain with a
// Merkle proof, or pending the next batch), and the gateway's check of the slice against the
// roots on chain. Break-glass reads stand out.
import { useEffect, useState } from 'preact/hooks'
import { problemText, t } from '../../lib/i18n'
import { ActionButton, Address, Badge, Notice, Section, Table, Time, describeError } from '../../ui/components'
import { orgName, type Organisation } from './summary'
import type { PatientWallet } from './wallet'

export interface AccessEntry {
  at: number
  actor: string
  org: string | null
  action: string
  record_id: string | null
  version: number | null
  view: string | null
  purpose: string | null
  outcome: string
  chain_batch_id: number | null
  root: string | null
  break_glass?: boolean
}

export interface AccessPage {
  gateway: string
  items: AccessEntry[]
  next_after: string | null
}

interface Verification {
  checked: number
  unanchored: number
  mismatches: { seq: number; reason: string }[]
}

const ACTIONS: Record<string, string> = {
  'POST /v1/records': 'write',
  'POST /v1/records/{record_id}/versions': 'amend',
  'GET /v1/records/{record_id}': 'read',
  'GET /v1/records/{record_id}/envelope': 'envelope',
  'GET /v1/records/{record_id}/key': 'key',
  'GET /v1/records/{record_id}/verification': 'verify',
}

/** What an entry did, in words: the route it used if the catalogue names it, else the route. */
export function actionText(action: string): string {
  const known = ACTIONS[action]
  return known ? t(`patient.trail.action.${known}`) : action
}

export const isWrite = (e: AccessEntry) => e.action === 'POST /v1/records' || e.action.startsWith('POST /v1/records/')

/** Every entry of the patient's trail at this gateway, oldest first, page after page. */
export async function fetchTrail(wallet: PatientWallet): Promise<AccessEntry[]> {
  const all: AccessEntry[] = []
  let after: string | undefined
  do {
    const page: AccessPage = await wallet.gateway.get<AccessPage>('/v1/access-log', { limit: 500, after })
    all.push(...page.items)
    after = page.next_after ?? undefined
  } while (after)
  return all
}

export function Trail(props: { wallet: PatientWallet }) {
  const { wallet } = props
  const [items, setItems] = useState<AccessEntry[] | null>(null)
  const [checked, setChecked] = useState<Verification | null>(null)
  const [organisations, setOrganisations] = useState<Organisation[]>([])
  const [failure, setFailure] = useState<string | null>(null)
  const [mine, setMine] = useState(false)

  const load = async () => {
    setFailure(null)
    try {
      setItems((await fetchTrail(wallet)).reverse())
      setChecked(await wallet.gateway.get<Verification>('/v1/access-log/verification'))
    } catch (err) {
      setFailure(describeError(err))
    }
  }
  useEffect(() => {
    fetch('/v1/console/organisations').then(async (r) => r.ok && setOrganisations((await r.json()) as Organisation[])).catch(() => undefined)
    void load()
  }, [wallet])

  return (
    <Section title={t('patient.trail.title')} id="trail">
      <p>{t('patient.trail.intro')}</p>
      {failure && <Notice kind="error">{failure}</Notice>}
      {checked && (
        <Notice kind={checked.mismatches.length ? 'error' : 'info'}>
          {t('patient.trail.checked', { checked: checked.checked, pending: checked.unanchored, mismatched: checked.mismatches.length })}
        </Notice>
      )}
      <Table<AccessEntry>
        caption={t('patient.trail.caption')}
        rows={(items ?? []).filter((e) => mine || e.org !== null || e.action in ACTIONS)}
        rowKey={(e) => `${e.at}-${e.actor}-${e.action}-${e.outcome}-${e.record_id ?? ''}-${e.purpose ?? ''}`}
        empty={items === null ? t('common.loading') : t('patient.trail.none')}
        columns={[
          { label: t('patient.trail.when'), cell: (e) => <Time at={e.at} /> },
          {
            label: t('patient.trail.who'),
            cell: (e) => (
              <span class={e.break_glass ? 'highlight' : undefined} data-org={e.org?.toLowerCase() ?? ''}>
                {e.org ? orgName(e.org, organisations) : t('patient.trail.you')} <Address value={e.actor} />
              </span>
            ),
          },
          {
            label: t('patient.trail.what'),
            cell: (e) => (
              <span>
                {actionText(e.action)}
                {e.purpose && !e.break_glass && ` · ${t(`patient.purpose.${e.purpose}`)}`}
                {e.break_glass && <> <Badge kind="warn">{t('patient.trail.break_glass')}</Badge></>}
              </span>
            ),
          },
          {
            label: t('patient.trail.outcome'),
            cell: (e) => (
              <Badge kind={e.outcome === 'allowed' ? 'ok' : 'bad'}>
                <span data-outcome={e.outcome}>
                  {e.outcome === 'allowed' ? t('patient.trail.allowed') : t('patient.trail.refused', { reason: problemText(e.outcome.replace(/^denied:/, ''), e.outcome.replace(/^denied:/, '')) })}
                </span>
              </Badge>
            ),
          },
          {
            label: t('patient.trail.proof'),
            cell: (e) => e.chain_batch_id !== null
              ? <Badge kind="ok">{t('patient.trail.anchored', { batch: e.chain_batch_id })}</Badge>
              : <Badge kind="info">{t('patient.trail.pending')}</Badge>,
          },
        ]}
      />
      <div class="field check">
        <label>
          <input type="checkbox" name="show-mine" checked={mine} onChange={(e) => setMine((e.target as HTMLInputElement).checked)} />{' '}
          {t('patient.trail.show_mine')}
        </label>
      </div>
      <ActionButton label={t('common.refresh')} name="refresh-trail" kind="plain" action={load} />
    </Section>
  )
}
