/** Typed clients of the API, the gateway, the contract service and the download service
 * (generated from their OpenAPI documents), all reached through the UI's own origin under
 * /_/api, /_/gateway, /_/contract and /_/download. */

import createClient, { type Middleware } from 'openapi-fetch'
import type { paths as ApiPaths, components as ApiComponents } from './schema/api'
import type { paths as GatewayPaths } from './schema/gateway'
import type { paths as ContractPaths, components as ContractComponents } from './schema/contract'
import type { paths as DownloadPaths, components as DownloadComponents } from './schema/download'
import { toApiError } from '../lib/errors'
import { loadSession } from '../lib/session'

export const API_BASE = '/_/api'
export const GATEWAY_BASE = '/_/gateway'
export const CONTRACT_BASE = '/_/contract'
export const DOWNLOAD_BASE = '/_/download'

export type Schemas = ApiComponents['schemas']
export type Model = Schemas['ModelOut']
export type Server = Schemas['ServerOut']
export type ApiKey = Schemas['ApiKeyOut']
export type User = Schemas['UserOut']
export type NodeInfo = Schemas['NodeOut']
export type Limits = ContractComponents['schemas']['LimitsOut']
export type Usage = ContractComponents['schemas']['UsageOut']
export type ContractOut = ContractComponents['schemas']['ContractOut']
export type UserContractIn = ContractComponents['schemas']['UserContractIn']
export type JobSnapshot = DownloadComponents['schemas']['JobSnapshot']
export type QuantModel = DownloadComponents['schemas']['QuantModel']

type UnauthorizedHandler = () => void
let onUnauthorized: UnauthorizedHandler = () => {}

/** Called on any 401 from a request that carried a token: the session is over. */
export function setUnauthorizedHandler(handler: UnauthorizedHandler): void {
  onUnauthorized = handler
}

export function notifyUnauthorized(): void {
  onUnauthorized()
}

const auth: Middleware = {
  onRequest({ request }) {
    const session = loadSession()
    if (session) request.headers.set('Authorization', `Bearer ${session.token}`)
    return request
  },
  onResponse({ request, response }) {
    if (response.status === 401 && request.headers.has('Authorization')) onUnauthorized()
    return response
  },
}

export const api = createClient<ApiPaths>({ baseUrl: API_BASE })
api.use(auth)
export const gateway = createClient<GatewayPaths>({ baseUrl: GATEWAY_BASE })
gateway.use(auth)
export const contract = createClient<ContractPaths>({ baseUrl: CONTRACT_BASE })
contract.use(auth)
export const download = createClient<DownloadPaths>({ baseUrl: DOWNLOAD_BASE })
download.use(auth)

/** The data of an openapi-fetch result, or the API's error thrown as an ApiError. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || !result.response.ok) throw toApiError(result.response.status, result.error)
  return result.data as T
}

export type HealthScore = Schemas['HealthScoreOut']
export type MetricsOverview = Schemas['OverviewOut']
export type MetricsPanel = Schemas['PanelOut']
export type NodeGpuMetrics = Schemas['NodeGpuMetricsOut']
export type CardMetrics = Schemas['CardMetrics']
