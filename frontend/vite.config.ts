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
    // 5173 is the served UI's (FRONTEND_URL); the dev server runs beside it.
    port: Number(process.env.UI_DEV_PORT ?? 5174),
    strictPort: true,
    proxy: {
      '/_/api': { target: apiUrl, rewrite: (p) => p.replace(/^\/_\/api/, '') },
      '/_/gateway': { target: gatewayUrl, rewrite: (p) => p.replace(/^\/_\/gateway/, '') },
    },
  },
  build: { chunkSizeWarningLimit: 400 },
})
