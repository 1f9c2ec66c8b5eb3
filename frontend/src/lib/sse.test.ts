import { describe, expect, it } from 'vitest'
import { SseParser, parseSse } from './sse'

describe('parseSse', () => {
  it.each([
    ['one event', 'data: hello\n\n', [{ event: 'message', data: 'hello' }]],
    ['named event', 'event: ping\ndata: {}\n\n', [{ event: 'ping', data: '{}' }]],
    ['multi-line data', 'data: a\ndata: b\n\n', [{ event: 'message', data: 'a\nb' }]],
    ['comments ignored', ': keep-alive\n\ndata: x\n\n', [{ event: 'message', data: 'x' }]],
    ['CRLF lines', 'data: x\r\n\r\n', [{ event: 'message', data: 'x' }]],
    ['no space after colon', 'data:x\n\n', [{ event: 'message', data: 'x' }]],
    ['last event without blank line', 'data: tail', [{ event: 'message', data: 'tail' }]],
    ['blank lines only', '\n\n\n', []],
    ['event name resets', 'event: a\ndata: 1\n\ndata: 2\n\n', [{ event: 'a', data: '1' }, { event: 'message', data: '2' }]],
  ])('%s', (_name, input, expected) => {
    expect(parseSse(input)).toEqual(expected)
  })
})

describe('SseParser across chunks', () => {
  it.each([
    ['split inside a line', ['da', 'ta: hel', 'lo\n', '\n']],
    ['split between CR and LF', ['data: hello\r', '\n\r\n']],
    ['one byte at a time', [...'data: hello\n\n']],
  ])('%s', (_name, chunks) => {
    const parser = new SseParser()
    const events = chunks.flatMap((c) => parser.push(c))
    expect([...events, ...parser.end()]).toEqual([{ event: 'message', data: 'hello' }])
  })
})
