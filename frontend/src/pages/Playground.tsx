import { useRef, useState, type FormEvent } from 'react'
import { useQuery } from '@tanstack/react-query'
import { GATEWAY_BASE, gateway, notifyUnauthorized, unwrap } from '../api/client'
import { useAuth } from '../auth'
import { CopyButton, Empty, ErrorNote, Field, PageHeader } from '../components/ui'
import { readChatStream, splitThinking, streamStats, type StreamStats } from '../lib/chat'
import { renderCurl, type ChatSettings, type Flavour } from '../lib/curl'
import { errorFromResponse } from '../lib/errors'

interface Turn {
  role: 'user' | 'assistant'
  content: string
  reasoning?: string
  stats?: StreamStats
}

function numberOrNull(value: string): number | null {
  return value.trim() === '' || Number.isNaN(Number(value)) ? null : Number(value)
}

export function PlaygroundPage() {
  const { session } = useAuth()
  const models = useQuery({
    queryKey: ['gateway-models'],
    queryFn: async () => unwrap(await gateway.GET('/v1/models')) as { data: { id: string }[] },
    refetchInterval: 5_000,
  })
  const [model, setModel] = useState('')
  const [system, setSystem] = useState('')
  const [temperature, setTemperature] = useState('0.7')
  const [topP, setTopP] = useState('')
  const [maxTokens, setMaxTokens] = useState('256')
  const [stop, setStop] = useState('')
  const [prompt, setPrompt] = useState('')
  const [turns, setTurns] = useState<Turn[]>([])
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)
  const [flavour, setFlavour] = useState<Flavour>('openai')
  const abort = useRef<AbortController | null>(null)

  const available = models.data?.data.map((m) => m.id) ?? []
  const chosen = model || available[0] || ''

  const settings = (messages: Turn[]): ChatSettings => ({
    model: chosen,
    system,
    messages: messages.map(({ role, content }) => ({ role, content })),
    temperature: numberOrNull(temperature),
    topP: numberOrNull(topP),
    maxTokens: numberOrNull(maxTokens),
    stop: stop.split(',').map((s) => s.trim()).filter(Boolean),
    stream: true,
  })

  async function send(event: FormEvent) {
    event.preventDefault()
    if (!prompt.trim() || !chosen || !session) return
    const history: Turn[] = [...turns, { role: 'user', content: prompt }]
    setTurns([...history, { role: 'assistant', content: '' }])
    setPrompt('')
    setError(null)
    setBusy(true)
    const s = settings(history)
    const body: Record<string, unknown> = {
      model: s.model,
      stream: true,
      messages: s.system ? [{ role: 'system', content: s.system }, ...s.messages] : s.messages,
    }
    if (s.temperature !== null) body.temperature = s.temperature
    if (s.topP !== null) body.top_p = s.topP
    if (s.maxTokens !== null) body.max_tokens = s.maxTokens
    if (s.stop.length) body.stop = s.stop
    abort.current = new AbortController()
    const start = performance.now()
    let first: number | null = null
    let raw = ''
    let reasoning = ''
    let chunks = 0
    const update = (stats?: StreamStats) => {
      const split = splitThinking(raw)
      setTurns([...history, { role: 'assistant', content: split.answer, reasoning: (reasoning + split.reasoning).trim(), stats }])
    }
    try {
      const response = await fetch(`${GATEWAY_BASE}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', Authorization: `Bearer ${session.token}` },
        body: JSON.stringify(body),
        signal: abort.current.signal,
      })
      if (!response.ok || !response.body) {
        if (response.status === 401) notifyUnauthorized()
        throw await errorFromResponse(response, 'chat failed')
      }
      const result = await readChatStream(response.body, {
        onDelta: (delta) => {
          if ((delta.content || delta.reasoning) && first === null) first = performance.now()
          raw += delta.content
          reasoning += delta.reasoning
          if (delta.content || delta.reasoning) {
            chunks += 1
            update(streamStats(start, first, performance.now(), chunks))
          }
        },
      })
      update(streamStats(start, first, performance.now(), result.completionTokens ?? result.chunks))
    } catch (e) {
      if (!(e instanceof DOMException && e.name === 'AbortError')) setError(e)
    } finally {
      setBusy(false)
      abort.current = null
    }
  }

  const curl = renderCurl(flavour, `${window.location.origin}${GATEWAY_BASE}`, settings([...turns, ...(prompt ? [{ role: 'user' as const, content: prompt }] : [])]))

  return (
    <section className="playground">
      <PageHeader title="Playground" />
      <div className="split">
        <form className="card settings" aria-label="Chat settings" onSubmit={(e) => e.preventDefault()}>
          <Field label="Model" htmlFor="pg-model" hint={available.length ? undefined : 'Serve a model first (Servers page).'}>
            <select id="pg-model" value={chosen} onChange={(e) => setModel(e.target.value)}>
              {available.length === 0 ? <option value="">No served model</option> : null}
              {available.map((id) => (
                <option key={id} value={id}>
                  {id}
                </option>
              ))}
            </select>
          </Field>
          <Field label="System prompt" htmlFor="pg-system">
            <textarea id="pg-system" rows={3} value={system} onChange={(e) => setSystem(e.target.value)} />
          </Field>
          <div className="row compact">
            <Field label="Temperature" htmlFor="pg-temperature">
              <input id="pg-temperature" inputMode="decimal" value={temperature} onChange={(e) => setTemperature(e.target.value)} />
            </Field>
            <Field label="top_p" htmlFor="pg-top-p">
              <input id="pg-top-p" inputMode="decimal" placeholder="default" value={topP} onChange={(e) => setTopP(e.target.value)} />
            </Field>
            <Field label="Max tokens" htmlFor="pg-max-tokens">
              <input id="pg-max-tokens" inputMode="numeric" value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} />
            </Field>
          </div>
          <Field label="Stop sequences" htmlFor="pg-stop" hint="Comma-separated">
            <input id="pg-stop" value={stop} onChange={(e) => setStop(e.target.value)} />
          </Field>
          <fieldset className="curl">
            <legend>Copy as curl</legend>
            <div className="segmented" role="radiogroup" aria-label="API flavour">
              {(['openai', 'ollama', 'anthropic'] as const).map((f) => (
                <label key={f}>
                  <input type="radio" name="flavour" value={f} checked={flavour === f} onChange={() => setFlavour(f)} />
                  {f === 'openai' ? 'OpenAI' : f === 'ollama' ? 'Ollama' : 'Anthropic'}
                </label>
              ))}
            </div>
            <pre className="mono" data-testid="curl" tabIndex={0} aria-label="curl command">
              {curl}
            </pre>
            <CopyButton text={curl} label="Copy curl" />
          </fieldset>
        </form>
        <div className="card chat">
          <div className="transcript" aria-live="polite">
            {turns.length === 0 ? <Empty>Send a message to start.</Empty> : null}
            {turns.map((turn, i) => (
              <div key={i} className={`turn ${turn.role}`}>
                <span className="who">{turn.role === 'user' ? 'You' : chosen}</span>
                {turn.reasoning ? (
                  <details className="reasoning" open>
                    <summary>Reasoning</summary>
                    <p>{turn.reasoning}</p>
                  </details>
                ) : null}
                <p className="content" data-testid={turn.role === 'assistant' ? 'answer' : undefined}>
                  {turn.content || (busy && i === turns.length - 1 ? '…' : '')}
                </p>
                {turn.stats ? (
                  <small className="stats" data-testid="stats">
                    TTFT {turn.stats.ttftMs === null ? '—' : `${Math.round(turn.stats.ttftMs)} ms`} · {turn.stats.tokens} tokens ·{' '}
                    {turn.stats.tokensPerSecond === null ? '—' : `${turn.stats.tokensPerSecond.toFixed(1)} tokens/s`}
                  </small>
                ) : null}
              </div>
            ))}
          </div>
          <ErrorNote error={error} />
          <form className="composer" onSubmit={send}>
            <label htmlFor="pg-prompt" className="sr-only">
              Message
            </label>
            <textarea
              id="pg-prompt"
              rows={2}
              placeholder="Ask something…"
              value={prompt}
              onChange={(e) => setPrompt(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === 'Enter' && !e.shiftKey) {
                  e.preventDefault()
                  e.currentTarget.form?.requestSubmit()
                }
              }}
            />
            {busy ? (
              <button type="button" className="secondary" onClick={() => abort.current?.abort()}>
                Stop
              </button>
            ) : (
              <button type="submit" disabled={!chosen || !prompt.trim()}>
                Send
              </button>
            )}
            <button type="button" className="secondary" disabled={busy || turns.length === 0} onClick={() => setTurns([])}>
              Clear
            </button>
          </form>
        </div>
      </div>
    </section>
  )
}
