import { useState } from 'react'
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { refreshAfterWrite } from '../queryClient'
import { api, unwrap } from '../api/client'
import { CopyButton, DangerButton, DataTable, ErrorNote, Field, FormCard, FormError, PageHeader } from '../components/ui'
import { fieldErrors } from '../lib/errors'

function when(value: string | null | undefined): string {
  return value ? new Date(value).toLocaleString() : '—'
}

export function ApiKeysPage() {
  const queryClient = useQueryClient()
  const keys = useQuery({ queryKey: ['api-keys'], queryFn: async () => unwrap(await api.GET('/api-keys')) })
  const [name, setName] = useState('')
  const [models, setModels] = useState('')
  const create = useMutation({
    mutationFn: async () => {
      const allowed = models.split(',').map((m) => m.trim()).filter(Boolean)
      return unwrap(await api.POST('/api-keys', { body: { name, allowed_models: allowed.length ? allowed : null } }))
    },
    onSuccess: () => {
      setName('')
      setModels('')
      return refreshAfterWrite(queryClient, ['api-keys'])
    },
  })
  const revoke = useMutation({
    mutationFn: async (id: string) => unwrap(await api.DELETE('/api-keys/{key_id}', { params: { path: { key_id: id } } })),
    onSuccess: () => refreshAfterWrite(queryClient, ['api-keys']),
  })
  const errors = fieldErrors(create.error, ['name', 'allowed_models'])

  return (
    <section>
      <PageHeader title="API keys" />
      <FormCard id="key-title" title="Create a key" onSubmit={() => create.mutate()}>
        <div className="row">
          <Field label="Name" htmlFor="key-name" error={errors.name}>
            <input id="key-name" value={name} onChange={(e) => setName(e.target.value)} aria-invalid={!!errors.name} />
          </Field>
          <Field label="Allowed models" htmlFor="key-models" hint="Comma-separated; empty allows every model" error={errors.allowed_models}>
            <input id="key-models" value={models} onChange={(e) => setModels(e.target.value)} />
          </Field>
        </div>
        <FormError error={create.error} fieldErrors={errors} />
        <button type="submit" disabled={create.isPending}>
          Create key
        </button>
        {create.data ? (
          <div className="note secret" role="status">
            <p>
              Key <strong>{create.data.name}</strong> created. Copy it now: it is not shown again.
            </p>
            <div className="copy-row">
              <code data-testid="new-key">{create.data.key}</code>
              <CopyButton text={create.data.key} />
            </div>
          </div>
        ) : null}
      </FormCard>
      <ErrorNote error={revoke.error} />
      <ErrorNote error={keys.error} />
      <DataTable
        caption="API keys"
        rows={keys.data}
        rowKey={(k) => k.id}
        empty="No API keys yet."
        columns={[
          { label: 'Name', cell: (k) => k.name },
          { label: 'Prefix', className: 'mono', cell: (k) => `${k.prefix}…` },
          { label: 'Models', cell: (k) => k.allowed_models?.join(', ') ?? 'all' },
          { label: 'Created', cell: (k) => when(k.created_at) },
          { label: 'Last used', cell: (k) => when(k.last_used_at) },
          { label: 'Status', cell: (k) => (k.revoked_at ? `revoked ${when(k.revoked_at)}` : 'active') },
        ]}
        actions={(k) => (k.revoked_at ? null : <DangerButton label="Revoke" subject={k.name} disabled={revoke.isPending} onClick={() => revoke.mutate(k.id)} />)}
      />
    </section>
  )
}
