// What this pharmacy may dispense now: approved, not dispensed, not expired, at any hospital,
// soonest expiry first (GET /v1/counter/prescriptions).
import { useEffect, useState } from 'preact/hooks'
import type { Gateway } from '../../lib/gateway'
import { t } from '../../lib/i18n'
import { Address, Badge, Notice, Section, Table, Time, describeError } from '../../ui/components'
import { dispensable, type Summary } from './counter'
import { Expiry } from './Expiry'

export function Queue(props: { gateway: Gateway; onOpen: (id: string) => void }) {
  const [rows, setRows] = useState<Summary[] | null>(null)
  const [error, setError] = useState<unknown>(null) // described when shown
  const [busy, setBusy] = useState(false)

  const load = async () => {
    setBusy(true)
    setError(null)
    try {
      setRows(await dispensable(props.gateway))
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }
  useEffect(() => {
    void load()
  }, [])

  return (
    <Section title={t('pharmacy.queue.title')} id="rx-queue">
      <p class="hint">{t('pharmacy.queue.intro')}</p>
      <div class="rx-toolbar">
        <button type="button" class="btn plain" name="refresh" onClick={() => void load()} disabled={busy} aria-busy={busy}>
          {busy ? t('common.working') : t('common.refresh')}
        </button>
      </div>
      {error !== null && <Notice kind="error">{describeError(error)}</Notice>}
      {rows === null && error === null && <p class="loading">{t('common.working')}</p>}
      {rows !== null && (
        <Table
          caption={t('pharmacy.queue.caption', { count: rows.length })}
          rows={rows}
          rowKey={(r) => r.prescription_id}
          empty={t('pharmacy.queue.empty')}
          columns={[
            {
              label: t('pharmacy.field.prescription'),
              cell: (r) => (
                <a
                  href={`#/pharmacy?rx=${r.prescription_id}`}
                  class="rx-open"
                  aria-label={t('pharmacy.queue.open', { id: r.prescription_id.slice(0, 10) })}
                  onClick={(e) => {
                    e.preventDefault()
                    props.onOpen(r.prescription_id)
                  }}
                >
                  <code>{r.prescription_id.slice(0, 10)}…</code>
                </a>
              ),
            },
            { label: t('pharmacy.field.institution'), cell: (r) => <Address value={r.institution} /> },
            { label: t('pharmacy.field.issued_at'), cell: (r) => <Time at={r.issued_at} /> },
            { label: t('pharmacy.field.expires_at'), cell: (r) => <Expiry at={r.expires_at} /> },
            {
              label: t('pharmacy.field.kind'),
              cell: (r) => <Badge kind="info">{t(r.online ? 'pharmacy.kind.online' : 'pharmacy.kind.offline')}</Badge>,
            },
            { label: t('pharmacy.field.status'), cell: () => <Badge kind="ok">{t('pharmacy.status.approved')}</Badge> },
          ]}
        />
      )}
    </Section>
  )
}
