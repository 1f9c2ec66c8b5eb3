/// <reference types="node" />
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

// read from disk: vitest hands a `?raw` import of a .css file over empty
const css = readFileSync(new URL('../index.css', import.meta.url), 'utf8')

/** Blocks left open at the end of `source` (comments and strings skipped); -1 once a brace
 * closes more than was opened. An unclosed block swallows every rule after it: a
 * `@media (max-width: 720px)` left open once made the dashboard's styles phone-only. */
function openBlocks(source: string): number {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '')
  let depth = 0
  for (const ch of code) {
    if (ch === '{') depth += 1
    if (ch === '}') depth -= 1
    if (depth < 0) return -1
  }
  return depth
}

describe('openBlocks', () => {
  it.each([
    ['a { b: c; }', 0],
    ['@media (max-width: 720px) { a { b: c; }\n.x { y: z; }', 1],
    ['a { b: c; } }', -1],
    ["/* { */ a { content: '}'; }", 0],
  ])('%s → %i', (source, expected) => {
    expect(openBlocks(source)).toBe(expected)
  })
})

it('index.css closes every block it opens', () => {
  expect(css).toContain('.series')
  expect(openBlocks(css)).toBe(0)
})
