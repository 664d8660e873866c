import { join } from 'node:path'
import type { Logger } from 'pino'
import type { Settings } from '../config/settings.js'
import { DASHBOARD_PORT, DashboardServer } from '../dashboard/dashboard-server.js'
import type { ServiceTarget } from '../dashboard/status-poll.js'

/** A service as the dashboard shows it: its name, dialect and where its settings make it listen. */
export function dashboardTarget(name: string, dialect: string, settings: Settings): ServiceTarget {
  const host = settings.host === '0.0.0.0' || settings.host === '::' ? '127.0.0.1' : settings.host
  const scheme = settings.tls === null || settings.tls === undefined ? ['http', 'ws'] : ['https', 'wss']
  return { name, dialect, http: `${scheme[0]}://${host}:${settings.port}`, ws: `${scheme[1]}://${host}:${settings.port}/ws` }
}

/** The dashboard's port: --port (serve dashboard), ROOMCAST_DASHBOARD_PORT, or 3848. */
export function dashboardPort(flag: number | undefined, env: NodeJS.ProcessEnv = process.env): number {
  if (flag !== undefined) return flag
  const fromEnv = Number(env.ROOMCAST_DASHBOARD_PORT)
  return Number.isInteger(fromEnv) && fromEnv > 0 && fromEnv < 65536 ? fromEnv : DASHBOARD_PORT
}

export function createDashboard(root: string, services: ServiceTarget[], logger: Logger, port: number, host: string): DashboardServer {
  return new DashboardServer({ host, port, services, assets: join(root, 'dist/dashboard'), logger: logger.child({ service: 'dashboard' }) })
}
