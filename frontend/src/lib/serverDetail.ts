/** The logic of a server's detail view (pure): event ages as kubectl prints them, the scale
 * form's check, the API's refusals with their rule, and who may change a server. */

import type { Server } from '../api/client'
import { ApiError } from './errors'

export const MAX_REPLICAS = 64 // ServerUpdate.replicas (the contract service may allow fewer: it says so)

/** kubectl's short age: 45s, 12m, 3h, 2d (the seconds of `then` before `now`). */
export function formatAge(then: string | null | undefined, now: number): string {
  if (!then) return '—'
  const at = Date.parse(then)
  if (Number.isNaN(at)) return '—'
  const seconds = Math.max(0, Math.floor((now - at) / 1000))
  if (seconds < 120) return `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 120) return `${minutes}m`
  const hours = Math.floor(minutes / 60)
  if (hours < 48) return `${hours}h`
  return `${Math.floor(hours / 24)}d`
}

/** Why the replicas field cannot be sent, or null. */
export function validateReplicas(value: string, current: number): string | null {
  const text = value.trim()
  if (!/^\d+$/.test(text)) return `Replicas must be a whole number from 0 to ${MAX_REPLICAS}.`
  const replicas = Number(text)
  if (replicas > MAX_REPLICAS) return `Replicas must be a whole number from 0 to ${MAX_REPLICAS}.`
  if (replicas === current) return `The server has ${current} already.`
  return null
}

/** The API's message, with the contract rule that refused it when the message does not name it. */
export function refusalText(error: unknown): string {
  if (!(error instanceof ApiError)) return error instanceof Error ? error.message : String(error)
  const detail = error.detail as { rule?: unknown } | null | undefined
  const rule = detail && typeof detail === 'object' && typeof detail.rule === 'string' ? detail.rule : null
  return rule && !error.message.includes(rule) ? `${error.message} (rule: ${rule})` : error.message
}

export type Origin = 'kubectl' | 'mine' | 'shared' | 'other'

/** Where a server came from, as its viewer sees it: applied with kubectl, theirs, shared
 * with their namespace (a user seeing another's server), another user's (an admin). */
export function originOf(server: Pick<Server, 'owner_id'>, userId: string | undefined, role: string | undefined): Origin {
  if (server.owner_id === null) return 'kubectl'
  if (userId && server.owner_id === userId) return 'mine'
  return role === 'admin' ? 'other' : 'shared'
}

/** Stop, scale and visibility: its owner and admins, never a ModelServe applied with kubectl
 * (the cluster's, changed with kubectl). A user who sees a server through its namespace
 * only reads it. */
export function canManage(server: Pick<Server, 'owner_id'>, userId: string | undefined, role: string | undefined): boolean {
  if (server.owner_id === null) return false
  return role === 'admin' || (!!userId && server.owner_id === userId)
}

export const VISIBILITY_TEXT: Record<Server['visibility'], string> = {
  private: 'Private: its owner and admins',
  namespace: 'Namespace: every user allowed in its namespace',
  public: 'Public: every signed-in caller',
}

/** An event's object without the server's name it repeats: `ModelServe`, `Pod 7d9f8-x2k4q`. */
export function shortObject(kind: string, name: string, server: string): string {
  if (name === server) return kind
  const prefix = `${server}-`
  return `${kind} ${name.startsWith(prefix) ? name.slice(prefix.length) : name}`
}
