import { useEffect, useId, useLayoutEffect, useRef, useState, useSyncExternalStore } from 'react'
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { refreshAfterWrite } from '../queryClient'
import { api, unwrap, type Schemas, type Server } from '../api/client'
import { DataTable, ErrorNote, StatusNote } from '../components/ui'
import { logSession, type LogTarget } from '../lib/logFollow'
import { atBottom, MAX_TAIL, nextTail } from '../lib/logs'
import { errorMessage } from '../lib/errors'
import { VISIBILITY_TEXT, canManage, formatAge, originOf, refusalText, shortObject, validateReplicas, type Origin } from '../lib/serverDetail'

type ServerEvent = Schemas['ServerEventOut']
type Visibility = Server['visibility']

const EVENTS_EVERY_MS = 3_000
const PODS_EVERY_MS = 5_000
const SERVER_CONTAINER = 'llama-server'

const ORIGIN_TEXT: Record<Origin, string> = {
  mine: 'Yours',
  other: "Another user's (you may change it as an admin)",
  shared: 'Shared with your namespace: read-only',
  kubectl: 'Applied with kubectl: read-only here (change or delete it with kubectl)',
}

function useServerEvents(uuid: string) {
  return useQuery({
    queryKey: ['server-events', uuid],
    queryFn: async () => unwrap(await api.GET('/servers/{server_uuid}/events', { params: { path: { server_uuid: uuid } } })).events,
    refetchInterval: EVENTS_EVERY_MS,
  })
}

function useServerPods(uuid: string) {
  return useQuery({
    queryKey: ['server-pods', uuid],
    queryFn: async () => unwrap(await api.GET('/servers/{server_uuid}/pods', { params: { path: { server_uuid: uuid } } })).pods,
    refetchInterval: PODS_EVERY_MS,
  })
}

function EventsPanel({ server }: { server: Server }) {
  const events = useServerEvents(server.server_uuid)
  const now = events.dataUpdatedAt || Date.now()
  return (
    <>
      <ErrorNote error={events.error} />
      <DataTable<ServerEvent>
        caption={`Events of ${server.name}`}
        rows={events.data}
        rowKey={(e) => `${e.object.kind}/${e.object.name}/${e.reason}/${e.first_seen}`}
        empty="No events. Kubernetes keeps events for about an hour: a server that has run quietly for longer has none, and one just created gets its first within seconds."
        columns={[
          { label: 'Last seen', cell: (e) => <span title={e.last_seen ?? ''}>{formatAge(e.last_seen, now)}</span> },
          { label: 'Type', cell: (e) => <span className={`badge event-${e.type.toLowerCase()}`}>{e.type}</span> },
          { label: 'Reason', cell: (e) => e.reason },
          {
            label: 'Object',
            className: 'object',
            cell: (e) => <span title={`${e.object.kind}/${e.object.name}`}>{shortObject(e.object.kind, e.object.name, server.name)}</span>,
          },
          { label: 'Message', className: 'message', cell: (e) => e.message },
          { label: 'Count', cell: (e) => (e.count > 1 ? `${e.count}× over ${formatAge(e.first_seen, now)}` : '1') },
        ]}
      />
    </>
  )
}

function LogLines({ target, label }: { target: LogTarget; label: string }) {
  const session = logSession(target)
  const view = useSyncExternalStore(session.subscribe, session.getSnapshot)
  const box = useRef<HTMLPreElement>(null)
  const pinned = useRef(true)
  const id = useId()

  useEffect(() => session.watch(), [session])
  useLayoutEffect(() => {
    if (pinned.current && box.current) box.current.scrollTop = box.current.scrollHeight
  }, [view.buffer])

  const { lines, partial, dropped } = view.buffer
  const text = partial ? [...lines, partial].join('\n') : lines.join('\n')
  const state = {
    connecting: 'Connecting…',
    streaming: 'Following',
    idle: view.follow ? 'Stopped' : 'Loaded',
    waiting: 'Retrying…',
  }[view.state]
  return (
    <>
      <div className="log-controls">
        <label className="check">
          <input type="checkbox" checked={view.follow} onChange={(e) => session.setFollow(e.target.checked)} /> Follow
        </label>
        <button type="button" className="secondary" disabled={view.tail >= MAX_TAIL} onClick={() => session.more()}>
          Show {nextTail(view.tail) - view.tail} more lines
        </button>
        <span className="muted" role="status" id={`${id}-state`}>
          {state}: last {view.tail} lines{view.pod ? ` of ${view.pod}` : ''}
          {dropped ? ` (${dropped} older lines dropped from view)` : ''}
        </span>
      </div>
      {view.error ? (
        <p className="note error" role="alert">
          {errorMessage(view.error)}
        </p>
      ) : null}
      <pre
        ref={box}
        className="log"
        tabIndex={0}
        aria-label={label}
        aria-describedby={`${id}-state`}
        data-testid="log"
        onScroll={(e) => {
          const el = e.currentTarget
          pinned.current = atBottom(el.scrollTop, el.clientHeight, el.scrollHeight)
        }}
      >
        {text || (view.state === 'connecting' ? 'Loading…' : view.error ? '' : 'No log lines yet.')}
      </pre>
    </>
  )
}

function LogsPanel({ server }: { server: Server }) {
  const pods = useServerPods(server.server_uuid)
  const [pod, setPod] = useState('')
  const [container, setContainer] = useState(SERVER_CONTAINER)
  const id = useId()
  const listed = pods.data ?? []
  const chosen = listed.find((p) => p.name === pod)
  const containers = (chosen ?? listed[0])?.containers ?? [SERVER_CONTAINER]
  return (
    <>
      <div className="row log-pick">
        <div className="field">
          <label htmlFor={`${id}-pod`}>Pod</label>
          <select id={`${id}-pod`} value={pod} onChange={(e) => setPod(e.target.value)}>
            <option value="">Newest running</option>
            {listed.map((p) => (
              <option key={p.name} value={p.name}>
                {p.name} ({p.phase}
                {p.node ? ` on ${p.node}` : ''})
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-container`}>Container</label>
          <select id={`${id}-container`} value={container} onChange={(e) => setContainer(e.target.value)}>
            {containers.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </div>
      </div>
      <ErrorNote error={pods.error} />
      <LogLines
        key={`${pod}/${container}`}
        target={{ server: server.server_uuid, pod, container }}
        label={`Log of ${server.name}, container ${container}`}
      />
    </>
  )
}

function useServerUpdate(server: Server) {
  const queryClient = useQueryClient()
  return useMutation({
    mutationFn: async (body: { replicas?: number; visibility?: Visibility }) =>
      unwrap(await api.PATCH('/servers/{server_uuid}', { params: { path: { server_uuid: server.server_uuid } }, body })),
    onSuccess: () => refreshAfterWrite(queryClient, ['servers']),
  })
}

function ScaleControl({ server }: { server: Server }) {
  const update = useServerUpdate(server)
  const [value, setValue] = useState(String(server.replicas))
  const [local, setLocal] = useState<string | null>(null)
  const id = useId()
  const error = local ?? (update.error ? refusalText(update.error) : null)
  return (
    <form
      className="inline-form"
      noValidate
      onSubmit={(e) => {
        e.preventDefault()
        const problem = validateReplicas(value, server.replicas)
        setLocal(problem)
        update.reset()
        if (!problem) update.mutate({ replicas: Number(value.trim()) })
      }}
    >
      <div className={`field${error ? ' invalid' : ''}`}>
        <label htmlFor={`${id}-replicas`}>Replicas</label>
        <div className="inline">
          <input
            id={`${id}-replicas`}
            inputMode="numeric"
            value={value}
            onChange={(e) => setValue(e.target.value)}
            aria-invalid={!!error}
            aria-describedby={error ? `${id}-replicas-error` : `${id}-replicas-hint`}
          />
          <button type="submit" disabled={update.isPending}>
            {update.isPending ? 'Scaling…' : 'Scale'}
          </button>
        </div>
        {error ? (
          <small className="field-error" id={`${id}-replicas-error`} role="alert">
            {error}
          </small>
        ) : (
          <small id={`${id}-replicas-hint`}>
            {server.ready_replicas} of {server.replicas} ready; 0 keeps it, idle
          </small>
        )}
      </div>
      {update.isSuccess ? <StatusNote>Scaled to {update.data.replicas} replicas.</StatusNote> : null}
    </form>
  )
}

function VisibilityControl({ server }: { server: Server }) {
  const update = useServerUpdate(server)
  const [value, setValue] = useState<Visibility>(server.visibility)
  const id = useId()
  return (
    <form
      className="inline-form"
      noValidate
      onSubmit={(e) => {
        e.preventDefault()
        update.reset()
        update.mutate({ visibility: value })
      }}
    >
      <div className={`field${update.error ? ' invalid' : ''}`}>
        <label htmlFor={`${id}-visibility`}>Who may use it</label>
        <div className="inline">
          <select id={`${id}-visibility`} value={value} onChange={(e) => setValue(e.target.value as Visibility)} aria-describedby={`${id}-visibility-hint`}>
            {(Object.keys(VISIBILITY_TEXT) as Visibility[]).map((v) => (
              <option key={v} value={v}>
                {v}
              </option>
            ))}
          </select>
          <button type="submit" disabled={update.isPending || value === server.visibility}>
            Change
          </button>
        </div>
        <small id={`${id}-visibility-hint`}>{VISIBILITY_TEXT[value]}</small>
        {update.error ? (
          <small className="field-error" role="alert">
            {refusalText(update.error)}
          </small>
        ) : null}
      </div>
    </form>
  )
}

type Tab = 'events' | 'logs'

/** One server's detail: facts, scale and visibility (owner and admins), its Events and its
 * log. Both panels stay mounted while the detail is open, so the log keeps following while
 * the events tab shows. */
export function ServerDetail({ server, userId, role }: { server: Server; userId: string | undefined; role: string | undefined }) {
  const [tab, setTab] = useState<Tab>('events')
  const id = useId()
  const manage = canManage(server, userId, role)
  const origin = originOf(server, userId, role)
  const tabs: [Tab, string][] = [
    ['events', 'Events'],
    ['logs', 'Logs'],
  ]
  return (
    <section className="detail" aria-labelledby={`${id}-title`} data-testid="server-detail">
      <h2 id={`${id}-title`}>{server.name}</h2>
      <dl className="facts">
        <dt>Namespace</dt>
        <dd className="mono">{server.namespace}</dd>
        <dt>Origin</dt>
        <dd>{ORIGIN_TEXT[origin]}</dd>
        {!manage ? (
          <>
            <dt>Visibility</dt>
            <dd data-testid="visibility">{VISIBILITY_TEXT[server.visibility]}</dd>
          </>
        ) : null}
      </dl>
      {manage ? (
        <div className="controls">
          <ScaleControl key={server.replicas} server={server} />
          <VisibilityControl key={server.visibility} server={server} />
        </div>
      ) : null}
      <div role="tablist" aria-label={`About ${server.name}`} className="tabs">
        {tabs.map(([key, label]) => (
          <button
            key={key}
            type="button"
            role="tab"
            id={`${id}-tab-${key}`}
            aria-selected={tab === key}
            aria-controls={`${id}-panel-${key}`}
            tabIndex={tab === key ? 0 : -1}
            className={tab === key ? 'tab active' : 'tab'}
            onClick={() => setTab(key)}
            onKeyDown={(e) => {
              if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
                const next = tabs[(tabs.findIndex(([k]) => k === key) + 1) % tabs.length][0]
                setTab(next)
                document.getElementById(`${id}-tab-${next}`)?.focus()
              }
            }}
          >
            {label}
          </button>
        ))}
      </div>
      {tabs.map(([key]) => (
        <div key={key} role="tabpanel" id={`${id}-panel-${key}`} aria-labelledby={`${id}-tab-${key}`} hidden={tab !== key} className="tabpanel">
          {key === 'events' ? <EventsPanel server={server} /> : <LogsPanel server={server} />}
        </div>
      ))}
    </section>
  )
}
