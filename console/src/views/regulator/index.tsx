// The regulator view (helper-owned); the shell renders it at #/regulator.
import { Section } from '../../ui/components'
import { t } from '../../lib/i18n'

export function RegulatorApp() {
  return <Section title={t('regulator.title')}>{t('common.coming')}</Section>
}
