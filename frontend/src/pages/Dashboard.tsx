import { useState } from 'react'
import { useQuery } from '@tanstack/react-query'
import { api, unwrap, type HealthScore, type MetricsPanel } from '../api/client'
import { useAuth } from '../auth'
import { DataTable, Empty, ErrorNote, PageHeader } from '../components/ui'
import { Sparkline } from '../components/Sparkline'
import { formatValue, lowestFirst, metricsState, scoreTone, type MetricsState } from '../lib/metrics'
import { gpuProducts, useNodes } from './Gpus'

const WINDOWS = ['5m', '15m', '1h', '6h'] as const
type Window = (typeof WINDOWS)[number]
const WINDOW_NAMES: Record<Window, string> = { '5m': '5 minutes', '15m': '15 minutes', '1h': 'hour', '6h': '6 hours' }
const REFRESH_MS = 15_000
const GPU_PANELS = new Set(['gpu_utilization', 'gpu_memory'])

function MetricsNote({ state, error }: { state: MetricsState; error: unknown }) {
  if (state === 'ok') return null
  if (state === 'not-configured')
    return (
      <p className="note" role="status">
        Metrics not configured: the API has no <code>PROMETHEUS_URL</code>, so there is no health score and no panels.
      </p>
    )
  if (state === 'unavailable')
    return (
      <p className="note warn" role="alert">
        Prometheus is not answering; the figures come back when it does.
      </p>
    )
  return <ErrorNote error={error} />
}

function Health({ health }: { health: HealthScore }) {
  const tone = scoreTone(health.score)
  const count = health.servers.length
  return (
    <section className="card" aria-labelledby="health-title">
      <h2 id="health-title">Platform health</h2>
      <div className="score-row">
        <p className={`score tone-${tone}`} data-testid="platform-score">
          <span className="score-value">{health.score}</span>
          <span className="score-of"> / 100</span>
        </p>
        <div className="score-detail">
          <p className="muted" data-testid="server-count">
            {count ? `${count} server${count === 1 ? '' : 's'} scored` : 'No server is running.'}
          </p>
          {health.reasons.length ? (
            <ul className="score-reasons" aria-label="What lowered the platform score">
              {health.reasons.slice(0, 3).map((r) => (
                <li key={r.message}>{r.message}</li>
              ))}
              {health.reasons.length > 3 ? <li>and {health.reasons.length - 3} more below</li> : null}
            </ul>
          ) : count ? (
            <p className="muted">Nothing lowers it.</p>
          ) : null}
        </div>
      </div>
    </section>
  )
}

/** The servers that lost points, worst first; the others are only counted. */
function ServerScores({ health }: { health: HealthScore }) {
  const lowered = lowestFirst(health.servers.filter((s) => s.score < 100))
  const perfect = health.servers.length - lowered.length
  if (!health.servers.length) return null
  return (
    <section className="card" aria-labelledby="server-scores-title">
      <h2 id="server-scores-title">Servers below 100</h2>
      {lowered.length ? (
        <DataTable
          caption="Servers whose health score is below 100"
          rows={lowered}
          rowKey={(s) => s.server_uuid}
          rowProps={(s) => ({ 'data-server': s.server_uuid })}
          empty="None."
          columns={[
            {
              label: 'Server',
              cell: (s) => (
                <>
                  <div>{s.model || 'unknown model'}</div>
                  <div className="mono muted small">{s.server_uuid}</div>
                </>
              ),
            },
            { label: 'Score', cell: (s) => <span className={`badge tone-${scoreTone(s.score)}`}>{s.score}</span> },
            { label: 'Lowered by', className: 'reasons', cell: (s) => s.reasons.map((r) => r.message).join('; ') },
          ]}
        />
      ) : null}
      <p className="muted">{lowered.length ? `${perfect} more at 100.` : `All ${perfect} score 100.`}</p>
    </section>
  )
}

function Panel({ panel, range }: { panel: MetricsPanel; range: Window }) {
  const gpu = GPU_PANELS.has(panel.key)
  const max = panel.unit === '%' ? 100 : panel.unit === 'ratio' ? 1 : undefined
  return (
    <article className="card panel" aria-labelledby={`panel-${panel.key}`} data-testid={`panel-${panel.key}`}>
      <h3 id={`panel-${panel.key}`}>{panel.title}</h3>
      {panel.series.length ? (
        <ul className="series">
          {panel.series.map((s) => (
            <li key={s.label}>
              <span className="series-label mono" title={s.label === '-' ? 'refused before a model was chosen (unknown model, bad key…)' : s.label}>
                {s.label === '-' ? 'unrouted' : s.label}
              </span>
              <Sparkline values={s.values} max={max} />
              <span className="series-value">{formatValue(s.latest, panel.unit)}</span>
            </li>
          ))}
        </ul>
      ) : (
        <p className="empty">{gpu ? 'Not reported: no node sends per-card GPU series (simulated and CPU-only nodes never do).' : `No data in the last ${WINDOW_NAMES[range]}.`}</p>
      )}
    </article>
  )
}

function Capacity() {
  const nodes = useNodes()
  const products = nodes.data ? gpuProducts(nodes.data) : undefined
  return (
    <section className="card" aria-labelledby="capacity-title">
      <h2 id="capacity-title">GPU capacity</h2>
      <ErrorNote error={nodes.error} />
      {products && products.length === 0 ? <Empty>No schedulable GPU node.</Empty> : null}
      {products?.length ? (
        <ul className="capacity">
          {products.map((p) => (
            <li key={p.product}>
              <span>{p.product}</span>
              <meter min={0} max={p.total} value={p.total - p.free} aria-label={`${p.product} GPUs in use`} />
              <span className="muted">
                {p.free} of {p.total} free
              </span>
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  )
}

export function DashboardPage() {
  const { session } = useAuth()
  const admin = session?.role === 'admin'
  const [range, setRange] = useState<Window>('15m')
  const health = useQuery({
    queryKey: ['health-score'],
    queryFn: async () => unwrap(await api.GET('/health/score')),
    refetchInterval: REFRESH_MS,
    enabled: admin,
  })
  const overview = useQuery({
    queryKey: ['metrics-overview', range],
    queryFn: async () => unwrap(await api.GET('/metrics/overview', { params: { query: { window: range } } })),
    refetchInterval: REFRESH_MS,
    placeholderData: (previous) => previous,
    enabled: admin,
  })
  const state = metricsState(overview.error ?? health.error)
  return (
    <section>
      <PageHeader title="Dashboard">
        {admin ? (
          <div className="inline-field">
            <label htmlFor="dashboard-window">Window</label>
            <select id="dashboard-window" value={range} onChange={(e) => setRange(e.target.value as Window)}>
              {WINDOWS.map((w) => (
                <option key={w} value={w}>
                  last {WINDOW_NAMES[w]}
                </option>
              ))}
            </select>
          </div>
        ) : null}
      </PageHeader>
      {admin ? (
        <>
          <MetricsNote state={state} error={overview.error ?? health.error} />
          {health.data ? <Health health={health.data} /> : null}
          {overview.data ? (
            <section aria-labelledby="panels-title">
              <h2 id="panels-title">Traffic and GPUs</h2>
              <div className="panels">
                {overview.data.panels.map((p) => (
                  <Panel key={p.key} panel={p} range={range} />
                ))}
              </div>
            </section>
          ) : null}
          {health.data ? <ServerScores health={health.data} /> : null}
        </>
      ) : (
        <p className="note">The platform's health score and traffic panels are shown to admins.</p>
      )}
      <Capacity />
    </section>
  )
}
