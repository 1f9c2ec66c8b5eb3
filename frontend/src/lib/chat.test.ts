import { describe, expect, it } from 'vitest'
import { parseChatChunk, readChatStream, splitThinking, streamStats } from './chat'

describe('parseChatChunk', () => {
  it.each([
    ['answer text', '{"choices":[{"delta":{"content":"Hi"}}]}', { content: 'Hi', reasoning: '', done: false, usage: undefined }],
    ['reasoning', '{"choices":[{"delta":{"reasoning_content":"hmm"}}]}', { content: '', reasoning: 'hmm', done: false, usage: undefined }],
    ['role only', '{"choices":[{"delta":{"role":"assistant"}}]}', { content: '', reasoning: '', done: false, usage: undefined }],
    ['usage', '{"choices":[],"usage":{"completion_tokens":7}}', { content: '', reasoning: '', done: false, usage: { completion_tokens: 7 } }],
    ['done', '[DONE]', { content: '', reasoning: '', done: true }],
  ])('%s', (_name, data, expected) => expect(parseChatChunk(data)).toEqual(expected))

  it('an error chunk throws its message', () => {
    expect(() => parseChatChunk('{"error":{"message":"model unloaded"}}')).toThrow('model unloaded')
  })
})

describe('splitThinking', () => {
  it.each([
    ['no thinking', 'Paris.', { reasoning: '', answer: 'Paris.' }],
    ['closed', '<think>France…</think>\nParis.', { reasoning: 'France…', answer: 'Paris.' }],
    ['still thinking', '<think>France', { reasoning: 'France', answer: '' }],
  ])('%s', (_name, text, expected) => expect(splitThinking(text)).toEqual(expected))
})

describe('streamStats', () => {
  it.each([
    ['normal', 0, 200, 1200, 11, { ttftMs: 200, tokens: 11, tokensPerSecond: 10 }],
    ['no token', 0, null, 500, 0, { ttftMs: null, tokens: 0, tokensPerSecond: null }],
    ['single token', 0, 100, 100, 1, { ttftMs: 100, tokens: 1, tokensPerSecond: null }],
  ])('%s', (_name, start, first, end, tokens, expected) => expect(streamStats(start, first, end, tokens)).toEqual(expected))
})

describe('readChatStream', () => {
  it('reads deltas split across network chunks', async () => {
    const encoder = new TextEncoder()
    const parts = ['data: {"choices":[{"delta":{"content":"Hel"}}]}\n', '\ndata: {"choices":[{"delta":{"con', 'tent":"lo"}}]}\n\ndata: [DONE]\n\n']
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const part of parts) controller.enqueue(encoder.encode(part))
        controller.close()
      },
    })
    let text = ''
    const result = await readChatStream(body, { onDelta: (d) => (text += d.content) })
    expect(text).toBe('Hello')
    expect(result).toEqual({ chunks: 2, completionTokens: null })
  })
})
