import { describe, expect, it } from 'vitest'
import { EMPTY_BUFFER, appendChunk, atBottom, joinTail, nextTail, overlap, splitChunk, trimLines } from './logs'

describe('splitChunk', () => {
  it.each([
    ['', 'a\nb\n', ['a', 'b'], ''],
    ['', 'a\nb', ['a'], 'b'],
    ['par', 'tial\nnext', ['partial'], 'next'],
    ['', 'crlf\r\n', ['crlf'], ''],
    ['', '', [], ''],
    ['x', '', [], 'x'],
    ['', '\n\n', ['', ''], ''],
  ])('%j + %j → %j, rest %j', (partial, chunk, lines, rest) => {
    expect(splitChunk(partial, chunk)).toEqual({ lines, partial: rest })
  })
})

describe('trimLines', () => {
  it.each([
    [['a', 'b', 'c'], 5, ['a', 'b', 'c'], 0],
    [['a', 'b', 'c'], 3, ['a', 'b', 'c'], 0],
    [['a', 'b', 'c'], 2, ['b', 'c'], 1],
    [['a', 'b', 'c'], 0, [], 3],
  ])('%j at most %d → %j (%d dropped)', (lines, max, kept, dropped) => {
    expect(trimLines(lines, max)).toEqual({ lines: kept, dropped })
  })
})

describe('appendChunk', () => {
  it('keeps the unfinished line until its end arrives and counts what the cap drops', () => {
    let buffer = appendChunk(EMPTY_BUFFER, 'one\ntw', 3)
    expect(buffer).toEqual({ lines: ['one'], partial: 'tw', dropped: 0 })
    buffer = appendChunk(buffer, 'o\nthree\nfour\nfive\n', 3)
    expect(buffer).toEqual({ lines: ['three', 'four', 'five'], partial: '', dropped: 2 })
    buffer = appendChunk(buffer, 'six\n', 3)
    expect(buffer).toEqual({ lines: ['four', 'five', 'six'], partial: '', dropped: 3 })
  })
})

describe('overlap and joinTail (a reconnect repeats the tail)', () => {
  it.each([
    [[], ['a', 'b'], 0, ['a', 'b']],
    [['a', 'b', 'c'], ['b', 'c', 'd'], 2, ['a', 'b', 'c', 'd']],
    [['a', 'b', 'c'], ['c'], 1, ['a', 'b', 'c']],
    [['a', 'b'], ['x', 'y'], 0, ['a', 'b', 'x', 'y']],
    [['x', 'x', 'x'], ['x', 'x', 'y'], 2, ['x', 'x', 'x', 'y']],
    [['a', 'b', 'c'], ['a', 'b', 'c'], 3, ['a', 'b', 'c']],
    [['a', 'b'], [], 0, ['a', 'b']],
  ])('%j then %j: %d shared → %j', (shown, fetched, shared, joined) => {
    expect(overlap(shown, fetched)).toBe(shared)
    expect(joinTail(shown, fetched).lines).toEqual(joined)
  })

  it('keeps the newest lines under the cap', () => {
    expect(joinTail(['a', 'b'], ['b', 'c', 'd'], 2)).toEqual({ lines: ['c', 'd'], dropped: 2 })
  })
})

describe('atBottom', () => {
  it.each([
    [0, 100, 100, true],
    [880, 100, 1000, true],
    [870, 100, 1000, false],
    [500, 100, 1000, false],
  ])('scrollTop %d, height %d of %d → %s', (top, height, total, expected) => {
    expect(atBottom(top, height, total)).toBe(expected)
  })
})

describe('nextTail', () => {
  it.each([
    [200, 1200],
    [99_500, 100_000],
    [100_000, 100_000],
  ])('%d → %d', (tail, expected) => {
    expect(nextTail(tail)).toBe(expected)
  })
})
