/** The imports list kept current from two sources — `GET /downloads` and each job's progress
 * stream — whichever answers last: a snapshot replaces what is held unless it is older. */

import type { JobSnapshot } from '../api/client'
import { isFinal } from './progress'

/** Whether `next` (a snapshot of the same model's job) should replace `held` (pure). */
export function isNewer(held: JobSnapshot, next: JobSnapshot): boolean {
  if (held.created_at !== next.created_at) return next.created_at > held.created_at
  if (isFinal(held.phase)) return isFinal(next.phase)
  if (isFinal(next.phase) || next.phase !== held.phase) return true
  return next.bytes_done >= held.bytes_done
}

/** `jobs` with `snapshot` merged in: the same model's job replaced when the snapshot is newer,
 * a new job first (the list is newest first) (pure). */
export function mergeSnapshot(jobs: readonly JobSnapshot[], snapshot: JobSnapshot): JobSnapshot[] {
  const index = jobs.findIndex((job) => job.model_uuid === snapshot.model_uuid)
  if (index === -1) return [snapshot, ...jobs]
  if (!isNewer(jobs[index], snapshot)) return [...jobs]
  return jobs.map((job, i) => (i === index ? snapshot : job))
}

/** A fresh list (`GET /downloads`) merged into what the streams have told (pure). */
export function mergeList(jobs: readonly JobSnapshot[], fresh: readonly JobSnapshot[]): JobSnapshot[] {
  const merged = fresh.map((job) => {
    const held = jobs.find((j) => j.model_uuid === job.model_uuid)
    return held && !isNewer(held, job) ? held : job
  })
  const gone = new Set(fresh.map((job) => job.model_uuid))
  return [...merged, ...jobs.filter((job) => !gone.has(job.model_uuid) && !isFinal(job.phase))]
}
