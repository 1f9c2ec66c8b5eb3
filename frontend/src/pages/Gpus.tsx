import { useQuery } from '@tanstack/react-query'
import { api, unwrap, type NodeInfo } from '../api/client'
import { Empty, ErrorNote, PageHeader } from '../components/ui'

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

function NodeCard({ node }: { node: NodeInfo }) {
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
        <dt>Metrics</dt>
        <dd>{node.metrics ? `${node.metrics.utilization_percent ?? '—'}% · ${node.metrics.memory_used_mib ?? '—'} MiB` : `${node.metrics_status}${node.simulated ? ' (simulated node)' : ''}`}</dd>
      </dl>
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
  return (
    <section>
      <PageHeader title="GPUs and nodes" />
      <ErrorNote error={nodes.error} />
      {nodes.data && nodes.data.length === 0 ? <Empty>No nodes.</Empty> : null}
      <div className="grid">{nodes.data?.map((n) => <NodeCard key={n.name} node={n} />)}</div>
    </section>
  )
}
