// Every string the pages show is in both catalogues, and every key the code asks for exists.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { CATALOGUES, t, setLang } from '../src/lib/i18n'

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? sources(path) : /\.tsx?$/.test(name) ? [path] : []
  })
}

describe('message catalogues', () => {
  test('Chinese and English have the same keys', () => {
    expect(Object.keys(CATALOGUES.en).sort()).toEqual(Object.keys(CATALOGUES['zh-CN']).sort())
  })

  test('every literal key the code asks for is in the catalogue', () => {
    const missing: string[] = []
    for (const file of sources('src')) {
      for (const match of readFileSync(file, 'utf8').matchAll(/\bt\(\s*'([\w.-]+)'/g)) {
        if (!(match[1]! in CATALOGUES['zh-CN'])) missing.push(`${file}: ${match[1]}`)
      }
    }
    expect(missing).toEqual([])
  })

  test('no Chinese text is written into the code instead of the catalogue', () => {
    const offenders = sources('src').filter((file) => /[\u4e00-\u9fff]/.test(readFileSync(file, 'utf8')))
    expect(offenders).toEqual([])
  })

  test('parameters are filled in, and Chinese is the default', () => {
    setLang('zh-CN')
    expect(t('common.zone', { zone: 'Asia/Shanghai' })).toBe('时间以 Asia/Shanghai 显示')
    setLang('en')
    expect(t('common.zone', { zone: 'Asia/Shanghai' })).toBe('Times shown in Asia/Shanghai')
    setLang('zh-CN')
  })
})
