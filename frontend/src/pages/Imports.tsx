import { useCallback, useEffect, useState } from 'react'
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { refreshAfterWrite } from '../queryClient'
import { download, unwrap, type JobSnapshot, type QuantModel } from '../api/client'
import { DangerButton, DataTable, ErrorNote, PageHeader, PhaseBadge } from '../components/ui'
import { mergeList, mergeSnapshot } from '../lib/imports'
import { followJob } from '../lib/jobStream'
import { formatEta, formatRate, isFinal, percent } from '../lib/progress'
import { formatBytes } from '../lib/validate'

function manifestBytes(model: QuantModel): number {
  return (model.manifest?.files ?? []).reduce((sum, file) => sum + file.size_bytes, 0)
}

function Offered({ onStarted }: { onStarted: (job: JobSnapshot) => void }) {
  const offered = useQuery({ queryKey: ['quant-models'], queryFn: async () => unwrap(await download.GET('/quant/models')) })
  const start = useMutation({
    mutationFn: async (uuid: string) => unwrap(await download.POST('/download/{model_uuid}', { params: { path: { model_uuid: uuid } } })),
    onSuccess: onStarted,
  })
  return (
    <section className="card" aria-labelledby="offered-title">
      <h2 id="offered-title">Offered by the quantization cluster</h2>
      <ErrorNote error={offered.error} />
      <ErrorNote error={start.error} />
      <DataTable
        caption="Models offered by the quantization cluster"
        rows={offered.data}
        rowKey={(m) => m.model_uuid}
        empty="The quantization cluster offers no models."
        columns={[
          { label: 'Name', cell: (m) => (m.manifest ? <strong>{m.manifest.name}</strong> : <span className="mono">{m.model_uuid}</span>) },
          { label: 'Quantization', cell: (m) => m.manifest?.quantization ?? '—' },
          { label: 'Source model', cell: (m) => m.manifest?.source_model ?? '—' },
          { label: 'Files', cell: (m) => (m.manifest ? `${m.manifest.files.length} · ${formatBytes(manifestBytes(m))}` : '—') },
          { label: 'Status', className: 'reasons', cell: (m) => m.error ?? 'ready to import' },
        ]}
        actions={(m) =>
          m.manifest ? (
            <button type="button" aria-label={`Import ${m.manifest.name}`} disabled={start.isPending} onClick={() => start.mutate(m.model_uuid)}>
              Import
            </button>
          ) : null
        }
      />
    </section>
  )
}

/** Keeps one running job current from its progress stream while it is shown. */
function useFollow(job: JobSnapshot, onSnapshot: (job: JobSnapshot) => void, onError: (error: unknown) => void) {
  const running = !isFinal(job.phase)
  useEffect(() => {
    if (!running) return
    return followJob(job.model_uuid, onSnapshot, onError)
  }, [job.model_uuid, job.created_at, running, onSnapshot, onError])
}

function JobProgress({ job, onSnapshot }: { job: JobSnapshot; onSnapshot: (job: JobSnapshot) => void }) {
  const [streamError, setStreamError] = useState<unknown>(null)
  useFollow(job, onSnapshot, setStreamError)
  const done = percent(job.bytes_done, job.bytes_total)
  const name = job.name ?? job.model_uuid
  return (
    <div className="job" data-job={job.model_uuid}>
      <div className="progress-row">
        <progress max={100} value={done} aria-label={`${name}: ${done}%`} />
        <span data-testid="job-summary">
          {done}% · {formatBytes(job.bytes_done)} of {formatBytes(job.bytes_total)}
          {isFinal(job.phase) ? null : ` · ${formatRate(job.rate_bytes_per_second)} · ${formatEta(job.eta_seconds)} left`}
        </span>
      </div>
      {job.error ? (
        <p className="note error" role="alert">
          {job.error.error_class}: {job.error.message}
        </p>
      ) : null}
      {streamError && !isFinal(job.phase) ? <ErrorNote error={streamError} /> : null}
      {job.files.length > 1 || !isFinal(job.phase) ? (
        <ul className="files">
          {job.files.map((file) => (
            <li key={file.key}>
              <span className="mono">{file.key}</span> — {file.state}, {percent(file.bytes_done, file.size_bytes)}% of {formatBytes(file.size_bytes)}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  )
}

function Imports({ jobs, onSnapshot }: { jobs: JobSnapshot[] | undefined; onSnapshot: (job: JobSnapshot) => void }) {
  const queryClient = useQueryClient()
  const cancel = useMutation({
    mutationFn: async (uuid: string) => unwrap(await download.DELETE('/download/{model_uuid}', { params: { path: { model_uuid: uuid } } })),
    onSettled: () => refreshAfterWrite(queryClient, ['downloads']),
  })
  return (
    <section aria-labelledby="imports-title">
      <h2 id="imports-title">Import jobs</h2>
      <ErrorNote error={cancel.error} />
      <DataTable
        caption="Import jobs"
        rows={jobs}
        rowKey={(job) => job.model_uuid}
        empty="No imports yet."
        columns={[
          { label: 'Model', cell: (job) => <strong>{job.name ?? job.model_uuid}</strong> },
          { label: 'Phase', cell: (job) => <PhaseBadge phase={job.phase} /> },
          { label: 'Progress', className: 'wide', cell: (job) => <JobProgress job={job} onSnapshot={onSnapshot} /> },
        ]}
        actions={(job) =>
          isFinal(job.phase) ? null : (
            <DangerButton label="Cancel" subject={job.name ?? job.model_uuid} disabled={cancel.isPending} onClick={() => cancel.mutate(job.model_uuid)} />
          )
        }
      />
    </section>
  )
}

export function ImportsPage() {
  const listed = useQuery({ queryKey: ['downloads'], queryFn: async () => unwrap(await download.GET('/downloads')) })
  const [jobs, setJobs] = useState<JobSnapshot[] | undefined>(undefined)
  const queryClient = useQueryClient()

  useEffect(() => {
    if (listed.data) setJobs((held) => mergeList(held ?? [], listed.data))
  }, [listed.data])

  const onSnapshot = useCallback(
    (job: JobSnapshot) => {
      setJobs((held) => mergeSnapshot(held ?? [], job))
      if (job.phase === 'Done') void refreshAfterWrite(queryClient, ['models'])
    },
    [queryClient],
  )

  return (
    <section>
      <PageHeader title="Imports" />
      <Offered onStarted={onSnapshot} />
      <ErrorNote error={listed.error} />
      <Imports jobs={jobs} onSnapshot={onSnapshot} />
    </section>
  )
}
