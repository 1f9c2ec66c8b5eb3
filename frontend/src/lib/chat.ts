/** Streaming chat through the gateway's OpenAI API, with the figures the playground shows. */

import { SseParser } from './sse'

export interface ChatDelta {
  content: string
  reasoning: string
  done: boolean
  usage?: { completion_tokens?: number }
}

/** One `data:` payload of an OpenAI chat stream → the text it adds (answer and reasoning). */
export function parseChatChunk(data: string): ChatDelta {
  if (data.trim() === '[DONE]') return { content: '', reasoning: '', done: true }
  const chunk = JSON.parse(data) as {
    choices?: { delta?: { content?: string | null; reasoning_content?: string | null }; finish_reason?: string | null }[]
    usage?: { completion_tokens?: number }
    error?: { message?: string }
  }
  if (chunk.error?.message) throw new Error(chunk.error.message)
  const choice = chunk.choices?.[0]
  return {
    content: choice?.delta?.content ?? '',
    reasoning: choice?.delta?.reasoning_content ?? '',
    done: false,
    usage: chunk.usage ?? undefined,
  }
}

/** Splits `<think>…</think>` reasoning out of answer text, for models that inline it. */
export function splitThinking(text: string): { reasoning: string; answer: string } {
  const match = /^\s*<think>([\s\S]*?)(<\/think>|$)/.exec(text)
  if (!match) return { reasoning: '', answer: text }
  return { reasoning: match[1].trim(), answer: text.slice(match[0].length).trimStart() }
}

export interface StreamStats {
  ttftMs: number | null
  tokens: number
  tokensPerSecond: number | null
}

/** Tokens per second over the generation (first token to last), not the wait before it. */
export function streamStats(start: number, firstToken: number | null, end: number, tokens: number): StreamStats {
  const ttftMs = firstToken === null ? null : firstToken - start
  const seconds = firstToken === null ? 0 : (end - firstToken) / 1000
  return { ttftMs, tokens, tokensPerSecond: seconds > 0 && tokens > 1 ? (tokens - 1) / seconds : null }
}

export interface StreamCallbacks {
  onDelta: (delta: ChatDelta) => void
}

/** Reads an SSE response body to its end, calling back for each chunk; returns the chunk count
 * and the completion tokens the server reported, if any. */
export async function readChatStream(
  body: ReadableStream<Uint8Array>,
  { onDelta }: StreamCallbacks,
): Promise<{ chunks: number; completionTokens: number | null }> {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  const parser = new SseParser()
  let chunks = 0
  let completionTokens: number | null = null
  const handle = (data: string) => {
    const delta = parseChatChunk(data)
    if (delta.usage?.completion_tokens !== undefined) completionTokens = delta.usage.completion_tokens
    if (delta.content || delta.reasoning) chunks += 1
    onDelta(delta)
  }
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    for (const event of parser.push(decoder.decode(value, { stream: true }))) handle(event.data)
  }
  for (const event of parser.end()) handle(event.data)
  return { chunks, completionTokens }
}
