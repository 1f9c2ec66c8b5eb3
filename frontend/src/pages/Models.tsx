import { useRef, useState } from 'react'
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { refreshAfterWrite } from '../queryClient'
import { API_BASE, api, unwrap, type Model } from '../api/client'
import { useAuth } from '../auth'
import { DangerButton, DataTable, ErrorNote, Field, PageHeader, StatusNote } from '../components/ui'
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
  const [name, setName] = useState('')
  const [progress, setProgress] = useState<UploadProgress | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [message, setMessage] = useState<string | null>(null)
  const handle = useRef<UploadHandle<Model> | null>(null)

  async function start() {
    if (!file || !session) return
    setError(null)
    setMessage(null)
    setProgress({ loaded: 0, total: file.size })
    const url = `${API_BASE}/models?${new URLSearchParams({ name: name || file.name.replace(/\.gguf$/i, '') })}`
    handle.current = uploadFile<Model>(url, file, session.token, setProgress)
    try {
      const model = await handle.current.done
      setMessage(`Uploaded ${model.name}.`)
      setFile(null)
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
          <input id="upload-file" type="file" accept=".gguf" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
        </Field>
        <Field label="Name" htmlFor="upload-name" hint="Default: the file name without .gguf">
          <input id="upload-name" value={name} placeholder="e.g. llama3:8b-q4" onChange={(e) => setName(e.target.value)} />
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

export function ModelsPage() {
  const models = useModels()
  const queryClient = useQueryClient()
  const remove = useMutation({
    mutationFn: async (uuid: string) => unwrap(await api.DELETE('/models/{model_uuid}', { params: { path: { model_uuid: uuid } } })),
    onSuccess: () => refreshAfterWrite(queryClient, ['models']),
  })
  const removeError = deleteMessage(remove.error)
  return (
    <section>
      <PageHeader title="Models" />
      <Upload />
      {removeError ? (
        <p className="note error" role="alert">
          {removeError}
        </p>
      ) : null}
      <ErrorNote error={models.error} />
      <DataTable
        caption="Registered models"
        rows={models.data}
        rowKey={(m) => m.uuid}
        empty="No models yet: upload a GGUF file."
        columns={[
          { label: 'Name', cell: (m) => <strong>{m.name}</strong> },
          { label: 'Architecture', cell: (m) => m.architecture ?? '—' },
          { label: 'Context', cell: (m) => m.context_length?.toLocaleString() ?? '—' },
          { label: 'Parameters', cell: (m) => formatCount(m.parameter_count) },
          { label: 'Quantization', cell: (m) => m.file_type ?? '—' },
          { label: 'Size', cell: (m) => formatBytes(m.size_bytes) },
          { label: 'State', cell: (m) => m.state },
        ]}
        actions={(m) => <DangerButton label="Delete" subject={m.name} disabled={remove.isPending} confirm={`Delete ${m.name}?`} onClick={() => remove.mutate(m.uuid)} />}
      />
    </section>
  )
}
