// The console is served by each gateway at /console/ (api/console.py), so every asset path is
// relative to that base and nothing is loaded from outside the gateway's own origin. Swagger UI's
// files are copied into dist/swagger for the gateway's offline /docs.
import { copyFileSync, mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { defineConfig, type Plugin } from 'vite'

const SWAGGER_FILES = ['swagger-ui-bundle.js', 'swagger-ui.css', 'favicon-32x32.png']

function swaggerAssets(): Plugin {
  return {
    name: 'medledger-swagger-assets',
    apply: 'build',
    closeBundle() {
      const require = createRequire(import.meta.url)
      const from = dirname(require.resolve('swagger-ui-dist/package.json'))
      const to = join('dist', 'swagger')
      mkdirSync(to, { recursive: true })
      for (const file of SWAGGER_FILES) copyFileSync(join(from, file), join(to, file))
    },
  }
}

export default defineConfig({
  base: '/console/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  plugins: [swaggerAssets()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, target: 'es2022' },
  test: {
    include: ['test/**/*.test.ts'],
    // The agreement half runs only when tests/console/test_crypto_agreement.py drives it (with the
    // Python's vectors in MEDLEDGER_AGREEMENT); `make console-check` has nothing to skip.
    exclude: process.env.MEDLEDGER_AGREEMENT ? [] : ['test/crypto/agreement.test.ts'],
    environment: 'node',
  },
})
