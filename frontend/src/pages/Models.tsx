import { useRef, useState } from 'react'
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { refreshAfterWrite } from '../queryClient'
import { API_BASE, api, contract, unwrap, type Model } from '../api/client'
import { useAuth } from '../auth'
import { DangerButton, DataTable, ErrorNote, Field, PageHeader, StatusNote } from '../components/ui'
import { SharingEditor, VisibilityBadge } from '../components/ModelSharing'
import { useFeatures } from '../features'
import { canManage, ownerText, type Viewer } from '../lib/modelAccess'
import { ApiError } from '../lib/errors'
import { formatBytes, formatCount } from '../lib/validate'
import { UploadCancelled, uploadFile, type UploadHandle, type UploadProgress } from '../lib/upload'

export function useModels() {
  return useQuery({ queryKey: ['models'], queryFn: async () => unwrap(await api.GET('/models', { params: { query: { limit: 1000 } } })) })
}

function deleteMessage(error: unknown): string | null {
  if (!error) return null
  if (error instanceof ApiError && error.status === 409)
    return `${error.message} — stop the servers that use this model (Servers page), then delete it.`
  return error instanceof Error ? error.message : String(error)
}

function Upload() {
  const { session } = useAuth()
  const queryClient = useQueryClient()
  const [file, setFile] = useState<File | null>(null)
  const [picker, setPicker] = useState(0)
  const [name, setName] = useState('')
  const [visibility, setVisibility] = useState<'private' | 'public'>('private')
  const [progress, setProgress] = useState<UploadProgress | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [message, setMessage] = useState<string | null>(null)
  const handle = useRef<UploadHandle<Model> | null>(null)

  async function start() {
    if (!file || !session) return
    setError(null)
    setMessage(null)
    setProgress({ loaded: 0, total: file.size })
    const url = `${API_BASE}/models?${new URLSearchParams({ name: name || file.name.replace(/\.gguf$/i, ''), visibility })}`
    handle.current = uploadFile<Model>(url, file, session.token, setProgress)
    try {
      const model = await handle.current.done
      setMessage(`Uploaded ${model.name} (${model.visibility}).`)
      setFile(null)
      setPicker((n) => n + 1)
      setName('')
      await refreshAfterWrite(queryClient, ['models'])
    } catch (e) {
      if (e instanceof UploadCancelled) setMessage('Upload cancelled.')
      else setError(e)
    } finally {
      handle.current = null
      setProgress(null)
    }
  }

  const percent = progress && progress.total ? Math.round((progress.loaded / progress.total) * 100) : 0
  return (
    <section className="card" aria-labelledby="upload-title">
      <h2 id="upload-title">Upload a GGUF model</h2>
      <div className="row">
        <Field label="File" htmlFor="upload-file">
          <input key={picker} id="upload-file" type="file" accept=".gguf" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
        </Field>
        <Field label="Name" htmlFor="upload-name" hint="Default: the file name without .gguf">
          <input id="upload-name" value={name} placeholder="e.g. llama3:8b-q4" onChange={(e) => setName(e.target.value)} />
        </Field>
        <Field label="Who may serve it" htmlFor="upload-visibility" hint="Share with namespaces after the upload">
          <select id="upload-visibility" value={visibility} onChange={(e) => setVisibility(e.target.value === 'public' ? 'public' : 'private')}>
            <option value="private">Private: you and admins</option>
            <option value="public">Public: every signed-in user</option>
          </select>
        </Field>
      </div>
      {progress ? (
        <div className="progress-row">
          <progress max={100} value={percent} aria-label="Upload progress" />
          <span>
            {percent}% · {formatBytes(progress.loaded)} of {formatBytes(progress.total)}
          </span>
          <button type="button" className="secondary" onClick={() => handle.current?.cancel()}>
            Cancel
          </button>
        </div>
      ) : (
        <button type="button" disabled={!file} onClick={() => void start()}>
          Upload
        </button>
      )}
      {message ? <StatusNote>{message}</StatusNote> : null}
      <ErrorNote error={error} />
    </section>
  )
}

/** The caller's id and role (ownership is by user id). */
function useViewer() {
  return useQuery({ queryKey: ['users', 'me'], queryFn: async () => unwrap(await api.GET('/users/me')), staleTime: Infinity })
}

/** Usernames by id, for admins (who may list users); others see "you" or "another user". */
function useUsernames(enabled: boolean): ReadonlyMap<string, string> {
  const users = useQuery({
    queryKey: ['users'],
    queryFn: async () => unwrap(await api.GET('/users', { params: { query: { limit: 1000 } } })),
    enabled,
  })
  return new Map((users.data ?? []).map((u) => [u.id, u.username]))
}

/** The namespaces the caller may serve in (their contract's effective allowed_namespaces);
 * null when unknown: no contract service, or no limit. */
function useAllowedNamespaces(username: string | undefined, enabled: boolean): readonly string[] | null {
  const read = useQuery({
    queryKey: ['contract', 'users', username],
    queryFn: async () => unwrap(await contract.GET('/contracts/users/{username}', { params: { path: { username: username ?? '' } } })),
    enabled: enabled && !!username,
  })
  return read.data?.effective.allowed_namespaces ?? null
}

export function ModelsPage() {
  const models = useModels()
  const { session } = useAuth()
  const features = useFeatures()
  const me = useViewer()
  const viewer: Viewer | undefined = me.data
  const isAdmin = viewer?.role === 'admin'
  const usernames = useUsernames(isAdmin)
  const allowed = useAllowedNamespaces(session?.username, features.quotas)
  const [editing, setEditing] = useState<string | null>(null)
  const [saved, setSaved] = useState<string | null>(null)
  const queryClient = useQueryClient()
  const remove = useMutation({
    mutationFn: async (uuid: string) => unwrap(await api.DELETE('/models/{model_uuid}', { params: { path: { model_uuid: uuid } } })),
    onSuccess: () => refreshAfterWrite(queryClient, ['models']),
  })
  const removeError = deleteMessage(remove.error)
  const editedModel = models.data?.find((m) => m.uuid === editing)
  return (
    <section>
      <PageHeader title="Models" />
      <Upload />
      {removeError ? (
        <p className="note error" role="alert">
          {removeError}
        </p>
      ) : null}
      {saved ? <StatusNote>{saved}</StatusNote> : null}
      {editedModel ? (
        <SharingEditor
          key={editedModel.uuid}
          model={editedModel}
          allowedNamespaces={allowed}
          freeText={isAdmin || allowed === null}
          onDone={(message) => {
            setEditing(null)
            setSaved(message)
          }}
        />
      ) : null}
      <ErrorNote error={models.error} />
      <DataTable
        caption="Registered models"
        rows={models.data}
        rowKey={(m) => m.uuid}
        empty="No models yet: upload a GGUF file."
        rowProps={(m) => ({ 'data-model': m.name, className: editing === m.uuid ? 'editing' : '' })}
        columns={[
          { label: 'Name', cell: (m) => <strong>{m.name}</strong> },
          { label: 'Owner', cell: (m) => ownerText(m.owner_id, viewer, usernames) },
          { label: 'Who may serve', cell: (m) => <VisibilityBadge model={m} /> },
          { label: 'Architecture', cell: (m) => m.architecture ?? '—' },
          { label: 'Context', cell: (m) => m.context_length?.toLocaleString() ?? '—' },
          { label: 'Parameters', cell: (m) => formatCount(m.parameter_count) },
          { label: 'Quantization', cell: (m) => m.file_type ?? '—' },
          { label: 'Size', cell: (m) => formatBytes(m.size_bytes) },
          { label: 'State', cell: (m) => m.state },
        ]}
        actions={(m) =>
          canManage(m.owner_id, viewer) ? (
            <div className="button-row">
              <button
                type="button"
                className="secondary"
                aria-label={`Sharing of ${m.name}`}
                aria-expanded={editing === m.uuid}
                onClick={() => {
                  setSaved(null)
                  setEditing(editing === m.uuid ? null : m.uuid)
                }}
              >
                Sharing
              </button>
              <DangerButton label="Delete" subject={m.name} disabled={remove.isPending} confirm={`Delete ${m.name}?`} onClick={() => remove.mutate(m.uuid)} />
            </div>
          ) : null
        }
      />
    </section>
  )
}
