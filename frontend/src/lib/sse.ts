/** Incremental Server-Sent Events parsing (the WHATWG rules the OpenAI and Anthropic streams
 * follow): feed it chunks as they arrive, get complete events back. */

export interface SseEvent {
  event: string
  data: string
}

export class SseParser {
  private buffer = ''
  private dataLines: string[] = []
  private eventName = ''

  push(chunk: string): SseEvent[] {
    this.buffer += chunk
    const events: SseEvent[] = []
    let newline: number
    while ((newline = this.buffer.search(/\r\n|\r|\n/)) !== -1) {
      const line = this.buffer.slice(0, newline)
      const width = this.buffer.startsWith('\r\n', newline) ? 2 : 1
      // A lone \r at the end of a chunk may be half of \r\n: wait for the next chunk.
      if (width === 1 && this.buffer[newline] === '\r' && newline === this.buffer.length - 1) break
      this.buffer = this.buffer.slice(newline + width)
      const event = this.line(line)
      if (event) events.push(event)
    }
    return events
  }

  /** The last event when the stream ends without a blank line. */
  end(): SseEvent[] {
    const rest = this.buffer
    this.buffer = ''
    const events: SseEvent[] = []
    if (rest) {
      const event = this.line(rest)
      if (event) events.push(event)
    }
    const last = this.line('')
    if (last) events.push(last)
    return events
  }

  private line(line: string): SseEvent | null {
    if (line === '') {
      if (this.dataLines.length === 0) {
        this.eventName = ''
        return null
      }
      const event = { event: this.eventName || 'message', data: this.dataLines.join('\n') }
      this.dataLines = []
      this.eventName = ''
      return event
    }
    if (line.startsWith(':')) return null
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') this.dataLines.push(value)
    else if (field === 'event') this.eventName = value
    return null
  }
}

export function parseSse(text: string): SseEvent[] {
  const parser = new SseParser()
  return [...parser.push(text), ...parser.end()]
}
