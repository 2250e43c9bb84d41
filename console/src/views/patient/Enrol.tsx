// Enrolment at this hospital, as the CLI and the demo do it: the pseudonym's key signs (EIP-712,
// under this gateway's domain) the X25519 key the hospital will seal records to; a clerk or doctor
// relays the signed request (POST /v1/patients is staff-only). The page shows and offers it.
import { useMemo } from 'preact/hooks'
import { signEnrolment } from '../../crypto'
import { t } from '../../lib/i18n'
import { Address, Section } from '../../ui/components'
import type { PatientWallet } from './wallet'

export function Enrol(props: { wallet: PatientWallet }) {
  const { wallet } = props
  const request = useMemo(
    () => signEnrolment(wallet.key, wallet.domain, { hospital: wallet.hospital, encryptionKey: wallet.encryptionKey }),
    [wallet],
  )
  const json = JSON.stringify(request)
  const download = () => {
    const url = URL.createObjectURL(new Blob([json], { type: 'application/json' }))
    const link = document.createElement('a')
    link.href = url
    link.download = `enrolment-${wallet.pseudonym.slice(2, 10).toLowerCase()}.json`
    link.click()
    setTimeout(() => URL.revokeObjectURL(url), 1000)
  }
  return (
    <Section title={t('patient.enrol.title')} id="enrol">
      <p>{t('patient.enrol.intro')}</p>
      <dl class="facts">
        <dt>{t('patient.enrol.hospital')}</dt>
        <dd><Address value={wallet.hospital} /></dd>
        <dt>{t('patient.enrol.pseudonym')}</dt>
        <dd><code class="address" data-pseudonym={wallet.pseudonym}>{wallet.pseudonym}</code></dd>
        <dt>{t('patient.enrol.encryption_key')}</dt>
        <dd><code class="address">{wallet.encryptionKey}</code></dd>
      </dl>
      <p>{t('patient.enrol.hand_over')}</p>
      <label for="f-enrolment">{t('patient.enrol.request')}</label>
      <textarea id="f-enrolment" name="enrolment-request" class="json" readOnly rows={5} value={json} />
      <p>
        <button type="button" class="btn plain" name="download-enrolment" onClick={download}>
          {t('patient.enrol.download')}
        </button>
      </p>
    </Section>
  )
}
