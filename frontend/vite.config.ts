import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'

// The dev server proxies the same prefixes the served UI uses (infra/local ui_server),
// so the app always talks to one origin.
const apiUrl = process.env.API_URL ?? 'http://127.0.0.1:8200'
const gatewayUrl = process.env.GATEWAY_URL ?? 'http://127.0.0.1:8203'

export default defineConfig({
  plugins: [react()],
  server: {
    host: '127.0.0.1',
    port: 5173,
    strictPort: true,
    proxy: {
      '/_/api': { target: apiUrl, rewrite: (p) => p.replace(/^\/_\/api/, '') },
      '/_/gateway': { target: gatewayUrl, rewrite: (p) => p.replace(/^\/_\/gateway/, '') },
    },
  },
  build: { chunkSizeWarningLimit: 400 },
})
