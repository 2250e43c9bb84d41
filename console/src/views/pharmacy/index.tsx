// The pharmacy view (helper-owned); the shell renders it at #/pharmacy.
import { Section } from '../../ui/components'
import { t } from '../../lib/i18n'

export function PharmacyApp() {
  return <Section title={t('pharmacy.title')}>{t('common.coming')}</Section>
}
