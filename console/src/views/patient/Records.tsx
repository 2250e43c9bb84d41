// My records at this hospital: found in the patient's own access trail (each anchoring is logged),
// opened here from the stored envelope with the pseudonym's X25519 key, and checked: the CID of
// the envelope the page opened against the CID the gateway reports anchored on chain.
import { useEffect, useState } from 'preact/hooks'
import { EnvelopeError } from '../../crypto'
import { problemText, t } from '../../lib/i18n'
import { ActionButton, Address, Badge, Notice, Section, Time, describeError } from '../../ui/components'
import { FhirView } from './fhir'
import { openMyRecord, type MyRecord, type PatientWallet } from './wallet'
import { fetchTrail, isWrite, type AccessEntry } from './Trail'

interface ServedRecord {
  record_id: string
  version: number
  hospital: string
  cid: string
  salt: string
  batch_inclusion?: unknown
}

interface Listed {
  recordId: string
  at: number
}

export function Records(props: { wallet: PatientWallet }) {
  const { wallet } = props
  const [listed, setListed] = useState<Listed[] | null>(null)
  const [failure, setFailure] = useState<string | null>(null)
  const [opened, setOpened] = useState<{ record: MyRecord; served: ServedRecord } | null>(null)

  const load = async () => {
    setFailure(null)
    try {
      const seen = new Map<string, number>()
      ;(await fetchTrail(wallet)).forEach((e: AccessEntry) => {
        if (e.record_id && isWrite(e) && e.outcome === 'allowed' && !seen.has(e.record_id)) seen.set(e.record_id, e.at)
      })
      setListed([...seen].map(([recordId, at]) => ({ recordId, at })))
    } catch (err) {
      setFailure(describeError(err))
    }
  }
  useEffect(() => void load(), [wallet])

  const open = async (recordId: string) => {
    let record: MyRecord
    try {
      record = await openMyRecord(wallet, recordId)
    } catch (err) {
      if (err instanceof EnvelopeError) throw new Error(problemText(err.code, err.message))
      throw err
    }
    const served = await wallet.gateway.get<ServedRecord>(`/v1/records/${recordId}`, { version: record.version })
    setOpened({ record, served })
  }

  return (
    <>
      <Section title={t('patient.records.title')} id="records">
        <p>{t('patient.records.intro')}</p>
        {failure && <Notice kind="error">{failure}</Notice>}
        {listed === null && !failure && <p class="loading">{t('common.loading')}</p>}
        {listed?.length === 0 && <p class="empty">{t('patient.records.none')}</p>}
        <ul class="cards">
          {listed?.map((r) => (
            <li key={r.recordId} class="card">
              <div>
                {t('patient.records.record')} <Address value={r.recordId} />
              </div>
              <div class="hint">
                {t('patient.records.written')} <Time at={r.at} />
              </div>
              <ActionButton label={t('patient.records.open')} name={`open-${r.recordId}`} action={() => open(r.recordId)} />
            </li>
          ))}
        </ul>
        <ActionButton label={t('common.refresh')} name="refresh-records" kind="plain" action={load} />
      </Section>
      {opened && <Opened {...opened} />}
    </>
  )
}

function Opened(props: { record: MyRecord; served: ServedRecord }) {
  const { record, served } = props
  const matches = served.cid === record.cid && served.version === record.version && served.salt === record.opened.salt
  const resource = record.opened.resource
  return (
    <Section title={t('patient.records.opened_title')} id="opened">
      <p>
        {t('patient.records.record')} <Address value={record.recordId} /> · {t('patient.records.version', { version: record.version })}
      </p>
      <Notice kind="info">{t('patient.records.opened_here')}</Notice>
      <div class="verification">
        {matches ? (
          <Badge kind="ok">{t('patient.records.verified')}</Badge>
        ) : (
          <Badge kind="bad">{t('patient.records.not_verified')}</Badge>
        )}
        <dl class="facts">
          <dt>{t('patient.records.anchored_cid')}</dt>
          <dd><code class="address">{served.cid}</code></dd>
          <dt>{t('patient.records.computed_cid')}</dt>
          <dd><code class="address">{record.cid}</code></dd>
          <dt>{t('patient.records.commitment')}</dt>
          <dd><code class="address">{record.opened.commitment}</code></dd>
          <dt>{t('patient.records.anchoring')}</dt>
          <dd>{served.batch_inclusion ? t('patient.records.in_batch') : t('patient.records.one_by_one')}</dd>
        </dl>
      </div>
      <FhirView resource={resource} />
    </Section>
  )
}
