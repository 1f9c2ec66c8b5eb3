import { useQuery } from '@tanstack/react-query'
import { api, unwrap, type NodeGpuMetrics, type NodeInfo } from '../api/client'
import { Empty, ErrorNote, PageHeader } from '../components/ui'
import { cardView, metricsState, notReportedText, type MetricsState } from '../lib/metrics'

export function useNodes() {
  return useQuery({ queryKey: ['nodes'], queryFn: async () => unwrap(await api.GET('/nodes')), refetchInterval: 5_000 })
}

/** GPU products of the schedulable nodes, with total and free cards. */
export function gpuProducts(nodes: NodeInfo[]): { product: string; total: number; free: number }[] {
  const byProduct = new Map<string, { product: string; total: number; free: number }>()
  for (const node of nodes) {
    if (!node.gpu_product || !node.schedulable || node.gpu_allocatable === 0) continue
    const entry = byProduct.get(node.gpu_product) ?? { product: node.gpu_product, total: 0, free: 0 }
    entry.total += node.gpu_allocatable
    entry.free += Math.max(0, node.gpu_allocatable - node.gpu_allocated)
    byProduct.set(node.gpu_product, entry)
  }
  return [...byProduct.values()].sort((a, b) => a.product.localeCompare(b.product))
}

/** Per-card live figures from the DCGM series (`GET /metrics/gpus`): 404 when the API has no
 * Prometheus, which the page shows as "not reported (metrics not configured)". */
export function useGpuMetrics() {
  return useQuery({ queryKey: ['gpu-metrics'], queryFn: async () => unwrap(await api.GET('/metrics/gpus')), refetchInterval: 10_000 })
}

function LiveCards({ node, live }: { node: NodeInfo; live: NodeGpuMetrics }) {
  return (
    <div className="table-wrap cards">
      <table>
        <caption className="sr-only">Live figures of the cards of {node.name}</caption>
        <thead>
          <tr>
            {['Card', 'Utilisation', 'Memory used', 'Temperature', 'Power', 'Held by'].map((h) => (
              <th key={h} scope="col">
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {live.cards.map((card) => {
            const view = cardView(card, node.gpu_memory_mib)
            return (
              <tr key={card.index} data-card={card.index}>
                <td data-label="Card" className="mono">
                  {view.label}
                </td>
                <td data-label="Utilisation">{view.utilization}</td>
                <td data-label="Memory used">{view.memory}</td>
                <td data-label="Temperature">{view.temperature}</td>
                <td data-label="Power">{view.power}</td>
                <td data-label="Held by" className="mono">
                  {view.holder}
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}

function NodeCard({ node, live, state }: { node: NodeInfo; live?: NodeGpuMetrics; state: MetricsState }) {
  const used = node.gpu_allocated
  const total = node.gpu_allocatable
  return (
    <article className="card node" aria-labelledby={`node-${node.name}`}>
      <header className="node-head">
        <h2 id={`node-${node.name}`}>{node.name}</h2>
        <span className={`badge ${node.ready ? 'phase-ready' : 'phase-failed'}`}>{node.ready ? 'Ready' : 'Not ready'}</span>
        {node.simulated ? <span className="badge">simulated</span> : null}
        {!node.schedulable ? <span className="badge">cordoned</span> : null}
      </header>
      <dl className="facts">
        <dt>GPU</dt>
        <dd>{node.gpu_product ?? (total ? 'unknown product' : 'none')}</dd>
        <dt>Card memory</dt>
        <dd>{node.gpu_memory_mib ? `${(node.gpu_memory_mib / 1024).toFixed(1)} GiB` : '—'}</dd>
        <dt>Allocated</dt>
        <dd>
          {used} of {total} {total ? <meter min={0} max={total} value={used} aria-label={`${node.name} GPUs allocated`} /> : null}
        </dd>
        <dt>Live metrics</dt>
        <dd data-testid={`live-${node.name}`}>{live?.cards.length ? `reported for ${live.cards.length} card${live.cards.length === 1 ? '' : 's'}` : notReportedText(node.simulated, state)}</dd>
      </dl>
      {live?.cards.length ? <LiveCards node={node} live={live} /> : null}
      {node.holders.length ? (
        <ul className="holders">
          {node.holders.map((h) => (
            <li key={`${h.namespace}/${h.pod}`}>
              <span className="mono">{h.namespace}/{h.pod}</span> holds {h.gpus} GPU{h.gpus === 1 ? '' : 's'} ({h.phase})
            </li>
          ))}
        </ul>
      ) : null}
    </article>
  )
}

export function GpusPage() {
  const nodes = useNodes()
  const metrics = useGpuMetrics()
  const state = metricsState(metrics.error)
  const live = new Map((metrics.data ?? []).map((m) => [m.node, m]))
  return (
    <section>
      <PageHeader title="GPUs and nodes" />
      <ErrorNote error={nodes.error} />
      {state === 'error' ? <ErrorNote error={metrics.error} /> : null}
      {nodes.data && nodes.data.length === 0 ? <Empty>No nodes.</Empty> : null}
      <div className="grid">
        {nodes.data?.map((n) => (
          <NodeCard key={n.name} node={n} live={live.get(n.name)} state={state} />
        ))}
      </div>
    </section>
  )
}
