// The console is served by each gateway at /console/ (api/console.py), so every asset path is
// relative to that base and nothing is loaded from outside the gateway's own origin.
import { defineConfig } from 'vite'

export default defineConfig({
  base: '/console/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, target: 'es2022' },
  test: { include: ['test/**/*.test.ts'], environment: 'node' },
})
