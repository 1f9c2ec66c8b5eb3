import { defineConfig, type Plugin } from 'vite'
import react from '@vitejs/plugin-react'

// The dev server proxies the same prefixes the served UI uses (infra/local ui_server),
// so the app always talks to one origin.
const apiUrl = process.env.API_URL ?? 'http://127.0.0.1:8200'
const gatewayUrl = process.env.GATEWAY_URL ?? 'http://127.0.0.1:8203'
const contractUrl = process.env.CONTRACT_URL
const downloadUrl = process.env.DOWNLOAD_URL

const upstreams: Record<string, string | undefined> = { api: apiUrl, gateway: gatewayUrl, contract: contractUrl, download: downloadUrl }
const proxied = Object.entries(upstreams).filter((entry): entry is [string, string] => !!entry[1])

/** `GET /_/config` as the UI server answers it: which services this origin reaches. */
function serviceConfig(): Plugin {
  const body = JSON.stringify({ services: Object.fromEntries(Object.keys(upstreams).map((name) => [name, !!upstreams[name]])) })
  return {
    name: 'service-config',
    configureServer(server) {
      server.middlewares.use('/_/config', (_req, res) => {
        res.setHeader('content-type', 'application/json')
        res.setHeader('cache-control', 'no-cache')
        res.end(body)
      })
    },
  }
}

export default defineConfig({
  plugins: [react(), serviceConfig()],
  server: {
    host: '127.0.0.1',
    // 5173 is the served UI's (FRONTEND_URL); the dev server runs beside it.
    port: Number(process.env.UI_DEV_PORT ?? 5174),
    strictPort: true,
    proxy: Object.fromEntries(
      proxied.map(([name, target]) => [`/_/${name}`, { target, rewrite: (p: string) => p.replace(new RegExp(`^/_/${name}`), '') }]),
    ),
  },
  build: { chunkSizeWarningLimit: 400 },
})
