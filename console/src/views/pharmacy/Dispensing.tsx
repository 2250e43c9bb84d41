// The dispense, confirmed first: what will be handed over, to whom, under which prescription.
// Refusals are translated; when another pharmacy was first, the chain's record of its dispense
// (which pharmacy, when) is read back and named.
import { useState } from 'preact/hooks'
import { GatewayError, type Gateway } from '../../lib/gateway'
import { t } from '../../lib/i18n'
import { formatTime } from '../../lib/time'
import { Address, Notice, describeError } from '../../ui/components'
import { dispense, medicationName, quantityText, type DispenseReceipt, type DispensingView, type Facts } from './counter'

export function Dispensing(props: {
  id: string
  gateway: Gateway
  facts: Facts
  view: DispensingView | null
  self: string
  reload: () => Promise<Facts | null>
}) {
  const [confirming, setConfirming] = useState(false)
  const [busy, setBusy] = useState(false)
  const [receipt, setReceipt] = useState<DispenseReceipt | null>(null)
  const [refusal, setRefusal] = useState<unknown>(null) // described when shown: in the current language
  const done = props.facts.dispense

  const run = async () => {
    if (!props.view) return
    setBusy(true)
    setRefusal(null)
    try {
      const done = await dispense(props.gateway, props.id, props.view)
      await props.reload() // the chain's record of it, for the validity shown above
      setReceipt(done)
    } catch (err) {
      // Another pharmacy was first: read back which one, and when, before saying so.
      if (err instanceof GatewayError && err.code === 'prescription.already_dispensed') await props.reload()
      setRefusal(err)
    } finally {
      setBusy(false)
      setConfirming(false)
    }
  }

  if (receipt) {
    return (
      <Notice kind="ok">
        <strong>{t('pharmacy.dispense.done')}</strong>
        <br />
        {t('pharmacy.dispense.receipt', { block: receipt.block })} <code class="rx-tx">{receipt.transaction}</code>
      </Notice>
    )
  }
  return (
    <div class="rx-dispense">
      {refusal !== null && (
        <Notice kind="error">
          <strong>{t('pharmacy.dispense.refused')}</strong> {describeError(refusal)}
        </Notice>
      )}
      {done && <AlreadyDispensed dispense={done} self={props.self} />}
      {!done && !props.facts.dispensable && <Notice kind="info">{t('pharmacy.dispense.not_dispensable')}</Notice>}
      {!done && props.facts.dispensable && !confirming && (
        <button
          type="button"
          class="btn primary"
          name="dispense"
          disabled={!props.view}
          onClick={() => setConfirming(true)}
        >
          {t('pharmacy.dispense.action')}
        </button>
      )}
      {!done && confirming && props.view && (
        <div class="rx-confirm" role="group" aria-labelledby="rx-confirm-h">
          <h3 id="rx-confirm-h">{t('pharmacy.dispense.confirm_title')}</h3>
          <p>
            {t('pharmacy.dispense.confirm_text', {
              medication: medicationName(props.view.resource),
              quantity: quantityText(props.view.resource) ?? '—',
            })}
          </p>
          <p class="hint">{t('pharmacy.dispense.confirm_once')}</p>
          <div class="rx-toolbar">
            <button type="button" class="btn primary" name="confirm-dispense" disabled={busy} aria-busy={busy} onClick={() => void run()}>
              {busy ? t('common.working') : t('pharmacy.dispense.confirm')}
            </button>
            <button type="button" class="btn plain" name="cancel-dispense" disabled={busy} onClick={() => setConfirming(false)}>
              {t('pharmacy.dispense.cancel')}
            </button>
          </div>
        </div>
      )}
    </div>
  )
}

function AlreadyDispensed(props: { dispense: NonNullable<Facts['dispense']>; self: string }) {
  const ours = props.dispense.pharmacy.toLowerCase() === props.self.toLowerCase()
  return (
    <Notice kind={ours ? 'ok' : 'error'}>
      <span class="rx-dispensed">
        {t(ours ? 'pharmacy.dispensed.here' : 'pharmacy.dispensed.elsewhere', {
        time: formatTime(props.dispense.dispensed_at),
        })}{' '}
        {!ours && <Address value={props.dispense.pharmacy} />}
      </span>
    </Notice>
  )
}
