// One prescription at the counter: its validity and review from the chain (this gateway), what
// the issuing hospital lets a pharmacy see of it (relayed), and the dispense, confirmed first.
// Another pharmacy's earlier dispense is named with its time, whether known on opening or learnt
// from the chain's refusal.
import type { ComponentChildren } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { useApp } from '../../lib/context'
import { GatewayError, type Gateway } from '../../lib/gateway'
import { t } from '../../lib/i18n'
import { Address, Badge, Notice, Section, Time, describeError } from '../../ui/components'
import { Dispensing } from './Dispensing'
import { Expiry } from './Expiry'
import {
  dispensingView,
  dosageText as dosageOf,
  factsOf,
  medicationName as medicationOf,
  quantityText as quantityOf,
  type DispensingView,
  type Facts,
} from './counter'

export function Detail(props: { id: string; gateway: Gateway; privateKey: Uint8Array; onBack: () => void }) {
  const { config } = useApp()
  const [facts, setFacts] = useState<Facts | null>(null)
  const [view, setView] = useState<DispensingView | null>(null)
  const [factsError, setFactsError] = useState<unknown>(null) // described when shown
  const [viewError, setViewError] = useState<unknown>(null)

  const loadFacts = async () => {
    try {
      const loaded = await factsOf(props.gateway, props.id)
      setFacts(loaded)
      return loaded
    } catch (err) {
      setFactsError(err)
      return null
    }
  }

  useEffect(() => {
    void (async () => {
      const loaded = await loadFacts()
      if (!loaded) return
      try {
        setView(await dispensingView(props.gateway, props.privateKey, loaded.institution, props.id))
      } catch (err) {
        // A dispensed prescription is no longer shown to other pharmacies: the facts say why.
        const gone = err instanceof GatewayError && err.code === 'prescription.not_dispensable' && loaded.dispense
        setViewError(gone ? null : err)
      }
    })()
  }, [props.id])

  return (
    <>
      <div class="rx-toolbar">
        <button type="button" class="btn plain" name="back" onClick={props.onBack}>
          {t('pharmacy.back')}
        </button>
      </div>
      <Section title={t('pharmacy.detail.title')} id="rx-detail">
        <p>
          <code class="rx-id" aria-label={t('pharmacy.field.prescription')}>
            {props.id}
          </code>
        </p>
        {factsError !== null && <Notice kind="error">{describeError(factsError)}</Notice>}
        {!facts && factsError === null && <p class="loading">{t('common.working')}</p>}
        {facts && (
          <div class="rx-grid">
            <Validity facts={facts} />
            <ReviewFacts facts={facts} />
          </div>
        )}
      </Section>
      {facts && (
        <Section title={t('pharmacy.view.title')} id="rx-view">
          {viewError !== null && <Notice kind="error">{describeError(viewError)}</Notice>}
          {!view && viewError === null && !facts.dispense && <p class="loading">{t('common.working')}</p>}
          {view && <ViewFacts view={view} />}
          <Dispensing
            id={props.id}
            gateway={props.gateway}
            facts={facts}
            view={view}
            self={config.organisation}
            reload={loadFacts}
          />
        </Section>
      )}
    </>
  )
}

function Row(props: { label: string; children: ComponentChildren }) {
  return (
    <>
      <dt>{props.label}</dt>
      <dd>{props.children}</dd>
    </>
  )
}

function Validity(props: { facts: Facts }) {
  const f = props.facts
  const state = f.dispense ? 'dispensed' : f.expired ? 'expired' : f.status === 'approved' ? 'valid' : f.status
  const kind = state === 'valid' ? 'ok' : state === 'dispensed' ? 'info' : 'bad'
  return (
    <div class="rx-card">
      <h3>{t('pharmacy.validity.title')}</h3>
      <dl class="rx-facts">
        <Row label={t('pharmacy.field.state')}>
          <Badge kind={kind}>{t(`pharmacy.state.${state}`)}</Badge>
        </Row>
        <Row label={t('pharmacy.field.kind')}>{t(f.online ? 'pharmacy.kind.online' : 'pharmacy.kind.offline')}</Row>
        <Row label={t('pharmacy.field.issued_at')}>
          <Time at={f.issued_at} />
        </Row>
        <Row label={t('pharmacy.field.expires_at')}>
          <Expiry at={f.expires_at} />
        </Row>
        <Row label={t('pharmacy.field.institution')}>
          <Address value={f.institution} />
        </Row>
        <Row label={t('pharmacy.field.patient')}>
          <Address value={f.patient} />
        </Row>
      </dl>
    </div>
  )
}

function ReviewFacts(props: { facts: Facts }) {
  const review = props.facts.review
  return (
    <div class="rx-card">
      <h3>{t('pharmacy.review.title')}</h3>
      {review ? (
        <dl class="rx-facts">
          <Row label={t('pharmacy.field.review')}>
            <Badge kind={review.approved ? 'ok' : 'bad'}>
              {t(review.approved ? 'pharmacy.review.approved' : 'pharmacy.review.rejected')}
            </Badge>
          </Row>
          <Row label={t('pharmacy.field.reviewed_at')}>
            <Time at={review.reviewed_at} />
          </Row>
          <Row label={t('pharmacy.field.reviewer')}>
            <Address value={review.pharmacist} />
          </Row>
          <Row label={t('pharmacy.field.reviewer_org')}>
            <Address value={review.org} />
          </Row>
        </dl>
      ) : (
        <p>{t('pharmacy.review.none')}</p>
      )}
    </div>
  )
}

function ViewFacts(props: { view: DispensingView }) {
  const r = props.view.resource
  return (
    <div class="rx-card">
      <dl class="rx-facts">
        <Row label={t('pharmacy.field.medication')}>
          <strong class="rx-drug">{medicationOf(r)}</strong>
        </Row>
        <Row label={t('pharmacy.field.dosage')}>{dosageOf(r) ?? '—'}</Row>
        <Row label={t('pharmacy.field.quantity')}>{quantityOf(r) ?? '—'}</Row>
        <Row label={t('pharmacy.field.prescriber')}>
          {props.view.prescriber ? <Address value={props.view.prescriber} /> : '—'}
        </Row>
      </dl>
      <p class="hint">{t('pharmacy.view.withheld', { fields: Object.keys(r).sort().join(', ') })}</p>
    </div>
  )
}
