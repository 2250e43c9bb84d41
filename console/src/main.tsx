import { render } from 'preact'
import { App } from './App'
import { lang, setLang } from './lib/i18n'
import './styles.css'

setLang(lang()) // sets <html lang> to the stored or default language
render(<App />, document.getElementById('app')!)
