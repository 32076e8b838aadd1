/// <reference types="vitest/config" />
// The console's build. `npm run build` type-checks first (tsc), so an API change that the
// generated client (src/api/schema.d.ts) no longer matches fails the build.
import { gzipSync } from 'node:zlib';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

const API_TARGET = process.env.ARREARS_API ?? 'http://127.0.0.1:8000';

/** Writes a .gz beside each text asset; the server sends it to clients that accept gzip. */
function gzipAssets(): Plugin {
  return {
    name: 'arrears-gzip-assets',
    apply: 'build',
    closeBundle() {
      const walk = (dir: string): void => {
        for (const name of readdirSync(dir)) {
          const path = join(dir, name);
          if (statSync(path).isDirectory()) walk(path);
          else if (/\.(js|css|html|svg|json)$/.test(name) && statSync(path).size > 1024) {
            writeFileSync(`${path}.gz`, gzipSync(readFileSync(path), { level: 9 }));
          }
        }
      };
      walk('dist');
    },
  };
}

export default defineConfig({
  plugins: [react(), gzipAssets()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      output: {
        manualChunks(id: string) {
          if (id.includes('node_modules/echarts') || id.includes('node_modules/zrender')) {
            return 'echarts';
          }
          if (id.includes('node_modules/')) return 'vendor';
          return undefined;
        },
      },
    },
  },
  server: {
    proxy: { '/api': API_TARGET },
  },
  test: {
    environment: 'jsdom',
    globals: true,
    setupFiles: ['src/test/setup.ts'],
    css: false,
    testTimeout: 60000,
    include: ['src/**/*.test.{ts,tsx}'],
  },
});
