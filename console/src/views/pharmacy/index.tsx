// The pharmacist's counter (#/pharmacy): what this pharmacy may dispense now, one prescription's
// dispensing view with its validity and review, and the dispense. #/pharmacy?rx=<id> opens one.
import { useEffect, useState } from 'preact/hooks'
import { useApp, useStaffGateway } from '../../lib/context'
import { t } from '../../lib/i18n'
import { session } from '../../lib/session'
import { Section } from '../../ui/components'
import { Detail } from './Detail'
import { Queue } from './Queue'

function selected(): string | null {
  const query = globalThis.location.hash.split('?')[1] ?? ''
  const rx = new URLSearchParams(query).get('rx')
  return rx && /^0x[0-9a-fA-F]{64}$/.test(rx) ? rx : null
}

export function open(id: string | null) {
  globalThis.location.hash = id ? `#/pharmacy?rx=${id}` : '#/pharmacy'
}

export function PharmacyApp() {
  const { requireSignIn } = useApp()
  const gateway = useStaffGateway()
  const [rx, setRx] = useState<string | null>(selected())

  useEffect(() => {
    const onHash = () => setRx(selected())
    globalThis.addEventListener('hashchange', onHash)
    return () => globalThis.removeEventListener('hashchange', onHash)
  }, [])

  const current = session()
  if (gateway === null || current?.kind !== 'staff') {
    return (
      <Section title={t('pharmacy.title')}>
        <p>{t('pharmacy.sign_in_first')}</p>
        <button type="button" class="btn primary" name="go-sign-in" onClick={() => requireSignIn('pharmacy')}>
          {t('pharmacy.sign_in')}
        </button>
      </Section>
    )
  }
  return rx ? (
    <Detail id={rx} gateway={gateway} privateKey={current.privateKey} onBack={() => open(null)} />
  ) : (
    <Queue gateway={gateway} onOpen={open} />
  )
}
