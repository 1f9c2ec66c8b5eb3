import { useState } from 'react'
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { refreshAfterWrite } from '../queryClient'
import { api, unwrap, type Server } from '../api/client'
import { DangerButton, DataTable, ErrorNote, Field, FormCard, PageHeader, PhaseBadge, StatusNote } from '../components/ui'
import { fieldErrors } from '../lib/errors'
import { serveRequest, validateServeForm, type ServeForm } from '../lib/validate'
import { canManage, originOf } from '../lib/serverDetail'
import { useAuth } from '../auth'
import { useModels } from './Models'
import { useNodes, gpuProducts } from './Gpus'
import { ServerDetail } from './ServerDetail'

const SERVE_FIELDS = ['model_name', 'replicas', 'gpu.count', 'gpu.product', 'runtime_params'] as const
const EMPTY: ServeForm = { model: '', replicas: '1', gpuCount: '0', gpuProduct: '', runtimeParams: '' }

export function useServers() {
  return useQuery({
    queryKey: ['servers'],
    queryFn: async () => unwrap(await api.GET('/status', { params: { query: { limit: 1000 } } })),
    refetchInterval: 2_000,
  })
}

/** The signed-in user (their id says which servers are theirs). */
export function useMe() {
  return useQuery({
    queryKey: ['me'],
    queryFn: async () => unwrap(await api.GET('/users/me')),
    staleTime: Infinity,
  })
}

function ServeFormCard() {
  const models = useModels()
  const nodes = useNodes()
  const queryClient = useQueryClient()
  const [form, setForm] = useState<ServeForm>(EMPTY)
  const [local, setLocal] = useState<Record<string, string>>({})
  const serve = useMutation({
    mutationFn: async (body: ReturnType<typeof serveRequest>) => unwrap(await api.POST('/serve', { body })),
    onSuccess: () => {
      setForm(EMPTY)
      return refreshAfterWrite(queryClient, ['servers'])
    },
  })
  const remote = fieldErrors(serve.error, SERVE_FIELDS)
  const errors: Record<string, string> = { ...remote, ...local }
  if (remote.model_name && !errors.model) errors.model = remote.model_name
  const general = serve.error && Object.keys(remote).length === 0 ? serve.error : null
  const products = gpuProducts(nodes.data ?? [])
  const set = (key: keyof ServeForm) => (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value })

  function submit() {
    const found = validateServeForm(form)
    setLocal(found)
    serve.reset()
    if (Object.keys(found).length === 0) serve.mutate(serveRequest(form))
  }

  const describedBy = (id: string, key: string) => (errors[key] ? `${id}-error` : undefined)
  return (
    <FormCard id="serve-title" title="Serve a model" onSubmit={submit}>
      <div className="row">
        <Field label="Model" htmlFor="serve-model" error={errors.model}>
          <select id="serve-model" value={form.model} onChange={set('model')} aria-invalid={!!errors.model} aria-describedby={describedBy('serve-model', 'model')}>
            <option value="">Choose…</option>
            {(models.data ?? []).map((m) => (
              <option key={m.uuid} value={m.name}>
                {m.name}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Replicas" htmlFor="serve-replicas" error={errors.replicas}>
          <input id="serve-replicas" inputMode="numeric" value={form.replicas} onChange={set('replicas')} aria-invalid={!!errors.replicas} aria-describedby={describedBy('serve-replicas', 'replicas')} />
        </Field>
        <Field label="GPUs per replica" htmlFor="serve-gpus" error={errors['gpu.count']} hint="0 runs on CPU">
          <input id="serve-gpus" inputMode="numeric" value={form.gpuCount} onChange={set('gpuCount')} aria-invalid={!!errors['gpu.count']} aria-describedby={describedBy('serve-gpus', 'gpu.count')} />
        </Field>
        <Field label="GPU product" htmlFor="serve-product" error={errors['gpu.product']}>
          <select id="serve-product" value={form.gpuProduct} onChange={set('gpuProduct')} aria-invalid={!!errors['gpu.product']} aria-describedby={describedBy('serve-product', 'gpu.product')}>
            <option value="">Any</option>
            {products.map((p) => (
              <option key={p.product} value={p.product}>
                {p.product} ({p.free} of {p.total} free)
              </option>
            ))}
          </select>
        </Field>
      </div>
      <Field label="Runtime parameters" htmlFor="serve-params" error={errors.runtime_params} hint='llama.cpp flags, e.g. "--ctx-size 2048"'>
        <input
          id="serve-params"
          className="mono"
          value={form.runtimeParams}
          onChange={set('runtimeParams')}
          aria-invalid={!!errors.runtime_params}
          aria-describedby={describedBy('serve-params', 'runtime_params') ?? 'serve-params-hint'}
        />
      </Field>
      <ErrorNote error={general} />
      <button type="submit" disabled={serve.isPending}>
        {serve.isPending ? 'Starting…' : 'Serve'}
      </button>
      {serve.data ? (
        <StatusNote>
          Started {serve.data.name}: endpoint <code>{serve.data.endpoint}</code>
        </StatusNote>
      ) : null}
    </FormCard>
  )
}

const REASONS_SHOWN = 140

/** Reasons can be long (a crash's log tail): the start, with the rest one click away. */
function Reasons({ reasons }: { reasons: string[] }) {
  const text = reasons.join('; ')
  if (!text) return <>—</>
  if (text.length <= REASONS_SHOWN) return <>{text}</>
  return (
    <details>
      <summary>{text.slice(0, REASONS_SHOWN)}…</summary>
      {text}
    </details>
  )
}

function gpuText(server: Server): string {
  const count = Number(server.gpu?.count ?? 0)
  if (!count) return 'CPU'
  return `${count}× ${typeof server.gpu?.product === 'string' ? server.gpu.product : 'GPU'}`
}

const ORIGIN_BADGE = { kubectl: 'kubectl', shared: 'shared', mine: null, other: null } as const

export function ServersTable({
  servers,
  onStop,
  stopping,
  userId,
  role,
  open,
  onToggle,
}: {
  servers: Server[]
  onStop: (uuid: string) => void
  stopping: boolean
  userId: string | undefined
  role: string | undefined
  open: string | null
  onToggle: (uuid: string) => void
}) {
  return (
    <DataTable
      caption="Servers"
      rows={servers}
      rowKey={(s) => s.server_uuid}
      rowProps={(s) => ({ 'data-server': s.server_uuid })}
      empty="No servers running."
      expanded={(s) => (s.server_uuid === open ? <ServerDetail server={s} userId={userId} role={role} /> : null)}
      columns={[
        {
          label: 'Server',
          cell: (s) => {
            const badge = ORIGIN_BADGE[originOf(s, userId, role)]
            return (
              <div>
                <strong>{s.name}</strong>
                {badge ? <span className="badge origin">{badge}</span> : null}
                <br />
                <small className="mono">{s.endpoint}</small>
              </div>
            )
          },
        },
        { label: 'Model', cell: (s) => s.model_name },
        { label: 'Phase', cell: (s) => <PhaseBadge phase={s.phase} /> },
        { label: 'Replicas', cell: (s) => `${s.ready_replicas}/${s.replicas}` },
        { label: 'GPUs', cell: gpuText },
        { label: 'Reasons', className: 'reasons', cell: (s) => <Reasons reasons={s.reasons} /> },
      ]}
      actions={(s) => (
        <>
          <button
            type="button"
            className="secondary"
            aria-expanded={s.server_uuid === open}
            aria-label={`Details of ${s.name}`}
            onClick={() => onToggle(s.server_uuid)}
          >
            {s.server_uuid === open ? 'Hide' : 'Details'}
          </button>{' '}
          {canManage(s, userId, role) ? <DangerButton label="Stop" subject={s.name} disabled={stopping} onClick={() => onStop(s.server_uuid)} /> : null}
        </>
      )}
    />
  )
}

const OPEN_KEY = 'inference.servers.open'

/** The open detail outlives a visit to another page (sessionStorage: this tab only). */
function useOpenServer(): [string | null, (uuid: string) => void] {
  const [open, setOpen] = useState<string | null>(() => sessionStorage.getItem(OPEN_KEY))
  const toggle = (uuid: string) => {
    const next = open === uuid ? null : uuid
    if (next) sessionStorage.setItem(OPEN_KEY, next)
    else sessionStorage.removeItem(OPEN_KEY)
    setOpen(next)
  }
  return [open, toggle]
}

export function ServersPage() {
  const servers = useServers()
  const me = useMe()
  const { session } = useAuth()
  const [open, toggle] = useOpenServer()
  const queryClient = useQueryClient()
  const stop = useMutation({
    mutationFn: async (uuid: string) => unwrap(await api.DELETE('/stop/{server_uuid}', { params: { path: { server_uuid: uuid } } })),
    onSuccess: () => refreshAfterWrite(queryClient, ['servers']),
  })
  return (
    <section>
      <PageHeader title="Servers" />
      <ServeFormCard />
      <ErrorNote error={stop.error} />
      <ErrorNote error={servers.error} />
      {servers.data ? (
        <ServersTable
          servers={servers.data}
          onStop={(uuid) => stop.mutate(uuid)}
          stopping={stop.isPending}
          userId={me.data?.id}
          role={session?.role}
          open={open}
          onToggle={toggle}
        />
      ) : null}
    </section>
  )
}
