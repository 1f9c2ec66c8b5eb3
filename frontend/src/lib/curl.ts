/** "Copy as curl": the playground's request in the three API flavours the gateway speaks. */

export type Flavour = 'openai' | 'ollama' | 'anthropic'

export interface ChatSettings {
  model: string
  system: string
  messages: { role: 'user' | 'assistant'; content: string }[]
  temperature: number | null
  topP: number | null
  maxTokens: number | null
  stop: string[]
  stream: boolean
}

/** Quotes for a POSIX shell: single quotes, with embedded ones closed, escaped and reopened. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`
}

export function requestBody(flavour: Flavour, s: ChatSettings): { path: string; body: Record<string, unknown> } {
  const withSystem = s.system ? [{ role: 'system', content: s.system }, ...s.messages] : s.messages
  const set = (target: Record<string, unknown>, key: string, value: unknown) => {
    if (value !== null && value !== undefined && !(Array.isArray(value) && value.length === 0)) target[key] = value
  }
  if (flavour === 'openai') {
    const body: Record<string, unknown> = { model: s.model, messages: withSystem, stream: s.stream }
    set(body, 'temperature', s.temperature)
    set(body, 'top_p', s.topP)
    set(body, 'max_tokens', s.maxTokens)
    set(body, 'stop', s.stop)
    return { path: '/v1/chat/completions', body }
  }
  if (flavour === 'ollama') {
    const options: Record<string, unknown> = {}
    set(options, 'temperature', s.temperature)
    set(options, 'top_p', s.topP)
    set(options, 'num_predict', s.maxTokens)
    set(options, 'stop', s.stop)
    const body: Record<string, unknown> = { model: s.model, messages: withSystem, stream: s.stream }
    if (Object.keys(options).length) body.options = options
    return { path: '/api/chat', body }
  }
  const body: Record<string, unknown> = {
    model: s.model,
    max_tokens: s.maxTokens ?? 1024, // required by the Anthropic API
    messages: s.messages,
    stream: s.stream,
  }
  set(body, 'system', s.system || null)
  set(body, 'temperature', s.temperature)
  set(body, 'top_p', s.topP)
  set(body, 'stop_sequences', s.stop)
  return { path: '/v1/messages', body }
}

/** The command, with the key as a shell variable so the copied text holds no secret. */
export function renderCurl(flavour: Flavour, baseUrl: string, s: ChatSettings): string {
  const { path, body } = requestBody(flavour, s)
  const auth =
    flavour === 'anthropic'
      ? [`-H "x-api-key: $INFERENCE_API_KEY"`, `-H 'anthropic-version: 2023-06-01'`]
      : [`-H "Authorization: Bearer $INFERENCE_API_KEY"`]
  return [
    `curl${s.stream ? ' -N' : ''} ${shellQuote(baseUrl.replace(/\/$/, '') + path)}`,
    `-H 'content-type: application/json'`,
    ...auth,
    `-d ${shellQuote(JSON.stringify(body))}`,
  ].join(' \\\n  ')
}
