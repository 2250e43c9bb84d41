// The patient view (helper-owned); the shell renders it at #/patient.
import { Section } from '../../ui/components'
import { t } from '../../lib/i18n'

export function PatientApp() {
  return <Section title={t('patient.title')}>{t('common.coming')}</Section>
}
