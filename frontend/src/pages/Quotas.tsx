import { useState, type FormEvent } from 'react'
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { refreshAfterWrite } from '../queryClient'
import { contract, unwrap, type ContractOut, type Limits, type Usage } from '../api/client'
import { useAuth } from '../auth'
import { DataTable, ErrorNote, Field, FormError, PageHeader, StatusNote } from '../components/ui'
import { contractBody, defaultHint, fieldsFor, formFromContract, type ContractForm, type Subject } from '../lib/contractForm'
import { fieldErrors } from '../lib/errors'
import { percent } from '../lib/progress'
import { formatBytes } from '../lib/validate'

type Meter = 'servers' | 'gpus' | 'gpu_memory_gib' | 'storage_bytes'

const METERS: { key: Meter; label: string; format: (n: number) => string }[] = [
  { key: 'servers', label: 'Servers', format: String },
  { key: 'gpus', label: 'GPUs', format: String },
  { key: 'gpu_memory_gib', label: 'GPU memory', format: (n) => `${n} GiB` },
  { key: 'storage_bytes', label: 'Model storage', format: formatBytes },
]

const RULES: { key: keyof Limits; label: string }[] = [
  { key: 'max_replicas_per_server', label: 'Replicas per server' },
  { key: 'max_gpus_per_replica', label: 'GPUs per replica' },
  { key: 'max_context_size', label: 'Context size' },
  { key: 'max_parallel', label: 'Parallel requests' },
  { key: 'allowed_namespaces', label: 'Namespaces' },
  { key: 'allowed_gpu_products', label: 'GPU products' },
  { key: 'allowed_images', label: 'Images' },
]

function limitText(value: Limits[keyof Limits]): string {
  if (value === null || value === undefined) return 'no limit'
  return Array.isArray(value) ? value.join(', ') || 'none' : String(value)
}

async function readContract(subject: Subject, name: string): Promise<ContractOut> {
  return subject === 'user'
    ? unwrap(await contract.GET('/contracts/users/{username}', { params: { path: { username: name } } }))
    : unwrap(await contract.GET('/contracts/namespaces/{namespace}', { params: { path: { namespace: name } } }))
}

async function readUsage(subject: Subject, name: string): Promise<Usage> {
  return subject === 'user'
    ? unwrap(await contract.GET('/usage/users/{username}', { params: { path: { username: name } } }))
    : unwrap(await contract.GET('/usage/namespaces/{namespace}', { params: { path: { namespace: name } } }))
}

function UsageTable({ usage }: { usage: Usage }) {
  return (
    <DataTable
      caption={`Usage of ${usage.subject}`}
      rows={METERS}
      rowKey={(m) => m.key}
      empty="No usage."
      columns={[
        { label: 'Resource', cell: (m) => m.label },
        {
          label: 'Used of limit',
          cell: (m) => {
            const { used, limit } = usage[m.key]
            return (
              <span data-meter={m.key}>
                {m.format(used)} of {limit === null ? 'no limit' : m.format(limit)}
              </span>
            )
          },
        },
        {
          label: 'Share',
          cell: (m) => {
            const { used, limit } = usage[m.key]
            if (limit === null) return '—'
            const share = limit === 0 ? (used > 0 ? 100 : 0) : percent(used, limit)
            return <progress max={100} value={share} aria-label={`${m.label}: ${share}% of the limit`} />
          },
        },
      ]}
    />
  )
}

function MyQuotas({ username }: { username: string }) {
  const usage = useQuery({ queryKey: ['usage', 'user', username], queryFn: () => readUsage('user', username), refetchInterval: 10_000 })
  const mine = useQuery({ queryKey: ['contract', 'user', username], queryFn: () => readContract('user', username) })
  return (
    <section className="card" aria-labelledby="usage-title">
      <h2 id="usage-title">Your usage</h2>
      <ErrorNote error={usage.error} />
      {usage.data ? <UsageTable usage={usage.data} /> : null}
      {usage.data ? <p className="empty">Replicas running: {usage.data.replicas}</p> : null}
      <h2>Your limits per server</h2>
      <ErrorNote error={mine.error} />
      <DataTable
        caption="Your limits per server"
        rows={mine.data ? RULES : undefined}
        rowKey={(r) => r.key}
        empty="No limits."
        columns={[
          { label: 'Rule', cell: (r) => r.label },
          { label: 'Limit', cell: (r) => (mine.data ? limitText(mine.data.effective[r.key]) : '—') },
        ]}
      />
    </section>
  )
}

function ContractEditor({ subject, name, loaded }: { subject: Subject; name: string; loaded: ContractOut }) {
  const queryClient = useQueryClient()
  const fields = fieldsFor(subject)
  const [form, setForm] = useState<ContractForm>(() => formFromContract(loaded.contract, fields))
  const [local, setLocal] = useState<Record<string, string>>({})
  const save = useMutation({
    mutationFn: async (body: Record<string, number | string[] | null>) =>
      subject === 'user'
        ? unwrap(await contract.PUT('/contracts/users/{username}', { params: { path: { username: name } }, body }))
        : unwrap(await contract.PUT('/contracts/namespaces/{namespace}', { params: { path: { namespace: name } }, body })),
    onSuccess: (saved) => {
      setForm(formFromContract(saved.contract, fields))
      queryClient.setQueryData(['contract', subject, name], saved)
      return refreshAfterWrite(queryClient, ['usage'])
    },
  })
  const errors = { ...fieldErrors(save.error, fields.map((f) => f.key)), ...local }
  const effective = (save.data ?? loaded).effective as Record<string, unknown>

  function submit(event: FormEvent) {
    event.preventDefault()
    const { body, errors: found } = contractBody(form, fields)
    setLocal(found)
    save.reset()
    if (Object.keys(found).length === 0) save.mutate(body)
  }

  return (
    <form onSubmit={submit} aria-label={`Contract of ${subject} ${name}`} noValidate>
      <p className="empty">Empty fields inherit the default (shown greyed).</p>
      <div className="row">
        {fields.map((field) => {
          const id = `contract-${field.key}`
          const inherited = !(form[field.key] ?? '').trim()
          return (
            <Field key={field.key} label={field.label} htmlFor={id} error={errors[field.key]} hint={inherited ? defaultHint(field, effective[field.key]) : 'set for this ' + subject}>
              <input
                id={id}
                inputMode={field.kind === 'count' ? 'numeric' : undefined}
                value={form[field.key] ?? ''}
                placeholder={inherited ? limitText(effective[field.key] as Limits[keyof Limits]) : undefined}
                onChange={(e) => setForm({ ...form, [field.key]: e.target.value })}
                aria-invalid={!!errors[field.key]}
                aria-describedby={errors[field.key] ? `${id}-error` : `${id}-hint`}
              />
            </Field>
          )
        })}
      </div>
      <FormError error={save.error} fieldErrors={errors} />
      <button type="submit" disabled={save.isPending}>
        Save contract
      </button>
      {save.isSuccess ? <StatusNote>Saved the contract of {name}.</StatusNote> : null}
    </form>
  )
}

function ContractAdmin() {
  const [subject, setSubject] = useState<Subject>('user')
  const [name, setName] = useState('')
  const [target, setTarget] = useState<{ subject: Subject; name: string } | null>(null)
  const loaded = useQuery({
    queryKey: ['contract', target?.subject, target?.name],
    enabled: !!target,
    queryFn: () => (target ? readContract(target.subject, target.name) : Promise.reject(new Error('nothing chosen'))),
  })
  const usage = useQuery({
    queryKey: ['usage', target?.subject, target?.name],
    enabled: !!target,
    queryFn: () => (target ? readUsage(target.subject, target.name) : Promise.reject(new Error('nothing chosen'))),
  })

  function submit(event: FormEvent) {
    event.preventDefault()
    if (name.trim()) setTarget({ subject, name: name.trim() })
  }

  return (
    <section className="card" aria-labelledby="contracts-title">
      <h2 id="contracts-title">Contracts (admin)</h2>
      <form className="row compact" onSubmit={submit} aria-label="Choose a contract">
        <Field label="Kind" htmlFor="contract-subject">
          <select id="contract-subject" value={subject} onChange={(e) => setSubject(e.target.value as Subject)}>
            <option value="user">user</option>
            <option value="namespace">namespace</option>
          </select>
        </Field>
        <Field label={subject === 'user' ? 'Username' : 'Namespace'} htmlFor="contract-name">
          <input id="contract-name" value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" />
        </Field>
        <div className="field">
          <button type="submit" disabled={!name.trim()}>
            Load
          </button>
        </div>
      </form>
      <ErrorNote error={loaded.error} />
      {target && usage.data ? <UsageTable usage={usage.data} /> : null}
      {target && loaded.data ? <ContractEditor key={`${target.subject}:${target.name}`} subject={target.subject} name={target.name} loaded={loaded.data} /> : null}
    </section>
  )
}

export function QuotasPage() {
  const { session } = useAuth()
  if (!session) return null
  return (
    <section>
      <PageHeader title="Quotas and usage" />
      <MyQuotas username={session.username} />
      {session.role === 'admin' ? <ContractAdmin /> : null}
    </section>
  )
}
