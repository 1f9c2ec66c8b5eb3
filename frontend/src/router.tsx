import {
  Link,
  Navigate,
  Outlet,
  createRootRoute,
  createRoute,
  createRouter,
  redirect,
  useNavigate,
  useRouterState,
} from '@tanstack/react-router'
import { useAuth } from './auth'
import { loadSession } from './lib/session'
import { useFeatureConfig, useFeatures, type Features } from './features'
import { LoginPage } from './pages/Login'
import { DashboardPage } from './pages/Dashboard'
import { ModelsPage } from './pages/Models'
import { ServersPage } from './pages/Servers'
import { PlaygroundPage } from './pages/Playground'
import { GpusPage } from './pages/Gpus'
import { ApiKeysPage } from './pages/ApiKeys'
import { UsersPage } from './pages/Users'
import { Unavailable } from './pages/Unavailable'
import { ImportsPage } from './pages/Imports'
import { QuotasPage } from './pages/Quotas'

interface NavItem {
  to: string
  label: string
  admin?: boolean
  feature?: keyof Features
}

export const NAV: NavItem[] = [
  { to: '/dashboard', label: 'Dashboard' },
  { to: '/models', label: 'Models' },
  { to: '/imports', label: 'Imports', feature: 'imports' },
  { to: '/servers', label: 'Servers' },
  { to: '/playground', label: 'Playground' },
  { to: '/gpus', label: 'GPUs' },
  { to: '/keys', label: 'API keys' },
  { to: '/quotas', label: 'Quotas', feature: 'quotas' },
  { to: '/users', label: 'Users', admin: true },
]

export function visibleNav(role: string | undefined, features: Features): NavItem[] {
  return NAV.filter((item) => (!item.feature || features[item.feature]) && (!item.admin || role === 'admin'))
}

function FeaturePage({ feature, title, service, page: Page }: { feature: keyof Features; title: string; service: string; page: () => React.ReactNode }) {
  const config = useFeatureConfig()
  if (config.isPending) return null
  return config.data?.[feature] ? <Page /> : <Unavailable title={title} service={service} />
}

function Shell() {
  const { session, signOut } = useAuth()
  const navigate = useNavigate()
  const features = useFeatures()
  const pathname = useRouterState({ select: (state) => state.location.pathname })
  if (!session) return pathname === '/login' ? <Outlet /> : <Navigate to="/login" />
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">Inference</span>
        <nav aria-label="Main">
          {visibleNav(session.role, features).map((item) => (
            <Link key={item.to} to={item.to} activeProps={{ 'aria-current': 'page' }}>
              {item.label}
            </Link>
          ))}
        </nav>
        <div className="user">
          <span title={`role: ${session.role}`}>
            {session.username}
            {session.role === 'admin' ? ' (admin)' : ''}
          </span>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              signOut()
              void navigate({ to: '/login' })
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <main id="main">
        <Outlet />
      </main>
    </div>
  )
}

const rootRoute = createRootRoute({ component: Shell })

function requireLogin({ location }: { location: { href: string } }) {
  if (!loadSession()) throw redirect({ to: '/login', search: { next: location.href } })
}

function requireAdmin(ctx: { location: { href: string } }) {
  requireLogin(ctx)
  if (loadSession()?.role !== 'admin') throw redirect({ to: '/models' })
}

const page = <TPath extends string>(path: TPath, component: () => React.ReactNode, admin = false) =>
  createRoute({ getParentRoute: () => rootRoute, path, beforeLoad: admin ? requireAdmin : requireLogin, component })

const loginRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/login',
  validateSearch: (search: Record<string, unknown>): { next?: string } =>
    typeof search.next === 'string' && search.next.startsWith('/') ? { next: search.next } : {},
  component: LoginPage,
})

const indexRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/',
  beforeLoad: () => {
    throw redirect({ to: loadSession() ? '/dashboard' : '/login' })
  },
})

const routeTree = rootRoute.addChildren([
  indexRoute,
  loginRoute,
  page('/dashboard', DashboardPage),
  page('/models', ModelsPage),
  page('/imports', () => <FeaturePage feature="imports" title="Imports" service="download service" page={ImportsPage} />),
  page('/servers', ServersPage),
  page('/playground', PlaygroundPage),
  page('/gpus', GpusPage),
  page('/keys', ApiKeysPage),
  page('/quotas', () => <FeaturePage feature="quotas" title="Quotas and usage" service="contract service" page={QuotasPage} />),
  page('/users', UsersPage, true),
])

export const router = createRouter({ routeTree, defaultPreload: false })

declare module '@tanstack/react-router' {
  interface Register {
    router: typeof router
  }
}
