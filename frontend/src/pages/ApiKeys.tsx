import { useState, type FormEvent } from 'react'
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { api, unwrap } from '../api/client'
import { CopyButton, Empty, ErrorNote, Field, PageHeader } from '../components/ui'
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
      return queryClient.invalidateQueries({ queryKey: ['api-keys'] })
    },
  })
  const revoke = useMutation({
    mutationFn: async (id: string) => unwrap(await api.DELETE('/api-keys/{key_id}', { params: { path: { key_id: id } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['api-keys'] }),
  })
  const errors = fieldErrors(create.error, ['name', 'allowed_models'])

  function submit(event: FormEvent) {
    event.preventDefault()
    create.mutate()
  }

  return (
    <section>
      <PageHeader title="API keys" />
      <form className="card" onSubmit={submit} aria-labelledby="key-title" noValidate>
        <h2 id="key-title">Create a key</h2>
        <div className="row">
          <Field label="Name" htmlFor="key-name" error={errors.name}>
            <input id="key-name" value={name} onChange={(e) => setName(e.target.value)} aria-invalid={!!errors.name} />
          </Field>
          <Field label="Allowed models" htmlFor="key-models" hint="Comma-separated; empty allows every model" error={errors.allowed_models}>
            <input id="key-models" value={models} onChange={(e) => setModels(e.target.value)} />
          </Field>
        </div>
        {Object.keys(errors).length ? null : <ErrorNote error={create.error} />}
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
      </form>
      <ErrorNote error={revoke.error} />
      <ErrorNote error={keys.error} />
      {keys.data && keys.data.length === 0 ? <Empty>No API keys yet.</Empty> : null}
      {keys.data && keys.data.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">API keys</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Prefix</th>
                <th scope="col">Models</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.map((k) => (
                <tr key={k.id}>
                  <td data-label="Name">{k.name}</td>
                  <td data-label="Prefix" className="mono">
                    {k.prefix}…
                  </td>
                  <td data-label="Models">{k.allowed_models?.join(', ') ?? 'all'}</td>
                  <td data-label="Created">{when(k.created_at)}</td>
                  <td data-label="Last used">{when(k.last_used_at)}</td>
                  <td data-label="Status">{k.revoked_at ? `revoked ${when(k.revoked_at)}` : 'active'}</td>
                  <td className="actions-cell">
                    {k.revoked_at ? null : (
                      <button type="button" className="danger" aria-label={`Revoke ${k.name}`} disabled={revoke.isPending} onClick={() => revoke.mutate(k.id)}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  )
}
