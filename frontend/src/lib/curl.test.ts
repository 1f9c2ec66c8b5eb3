import { describe, expect, it } from 'vitest'
import { renderCurl, requestBody, shellQuote, type ChatSettings } from './curl'

const base: ChatSettings = {
  model: 'smollm2:135m',
  system: 'Be brief.',
  messages: [{ role: 'user', content: "It's 2 o'clock" }],
  temperature: 0.5,
  topP: null,
  maxTokens: 64,
  stop: ['\n\n'],
  stream: true,
}

describe('requestBody', () => {
  it.each([
    [
      'openai',
      '/v1/chat/completions',
      {
        model: 'smollm2:135m',
        messages: [{ role: 'system', content: 'Be brief.' }, ...base.messages],
        stream: true,
        temperature: 0.5,
        max_tokens: 64,
        stop: ['\n\n'],
      },
    ],
    [
      'ollama',
      '/api/chat',
      {
        model: 'smollm2:135m',
        messages: [{ role: 'system', content: 'Be brief.' }, ...base.messages],
        stream: true,
        options: { temperature: 0.5, num_predict: 64, stop: ['\n\n'] },
      },
    ],
    [
      'anthropic',
      '/v1/messages',
      {
        model: 'smollm2:135m',
        max_tokens: 64,
        messages: base.messages,
        stream: true,
        system: 'Be brief.',
        temperature: 0.5,
        stop_sequences: ['\n\n'],
      },
    ],
  ] as const)('%s', (flavour, path, body) => {
    expect(requestBody(flavour, base)).toEqual({ path, body })
  })

  it('anthropic gets a max_tokens even when none is set', () => {
    expect(requestBody('anthropic', { ...base, maxTokens: null }).body.max_tokens).toBe(1024)
  })
})

describe('shellQuote', () => {
  it.each([
    ['plain', "'plain'"],
    ["it's", `'it'\\''s'`],
    ['$HOME `x`', "'$HOME `x`'"],
  ])('%s', (input, expected) => expect(shellQuote(input)).toBe(expected))
})

describe('renderCurl', () => {
  it('quotes the body so the shell passes it unchanged and keeps the key out of the text', () => {
    const text = renderCurl('openai', 'http://127.0.0.1:5173/_/gateway/', base)
    expect(text).toContain("curl -N 'http://127.0.0.1:5173/_/gateway/v1/chat/completions'")
    expect(text).toContain('"Authorization: Bearer $INFERENCE_API_KEY"')
    expect(text).toContain(`It'\\''s 2 o'\\''clock`)
  })
  it('anthropic uses x-api-key and a version header', () => {
    const text = renderCurl('anthropic', 'http://h', { ...base, stream: false })
    expect(text).toMatch(/^curl 'http:\/\/h\/v1\/messages'/)
    expect(text).toContain('x-api-key: $INFERENCE_API_KEY')
    expect(text).toContain('anthropic-version: 2023-06-01')
  })
})
