// The dashboard page (docs/dashboard.md): /dashboard shows a card per service, /live the event
// stream. Read-only: it subscribes and reads status, never publishes. Bundled by esbuild at build.
import { RoomcastClient } from '../src/client/index.js'
import type { ServiceStatus as Status, ServiceTarget } from '../src/dashboard/status-poll.js'
import { el, sparkline } from './dom.js'

/** A service as /api/services lists it; its dialect picks the client's codec. */
type Service = ServiceTarget & { readonly dialect: 'envelope' | 'flat' }

/** Channels without parameters that services have: the live view subscribes those each service accepts. */
const FIXED_CHANNELS = ['global', 'metrics', 'files', 'diagnostics', 'ai-response', 'search', 'validation', 'git', 'anomalies', 'insights', 'coverage', 'adapters', 'code', 'goal-teams']
const MAX_ROWS = 500
const SPARK_POINTS = 30

const app = document.getElementById('app') as HTMLElement
const services: Service[] = ((await (await fetch('/api/services')).json()) as { services: Service[] }).services

function nav(active: string): HTMLElement {
  return el('header', {}, [
    el('h1', {}, ['roomcast']),
    el('nav', {}, [
      el('a', { href: '/dashboard', class: active === 'dashboard' ? 'active' : '' }, ['Dashboard']),
      el('a', { href: '/live', class: active === 'live' ? 'active' : '' }, ['Live events']),
    ]),
  ])
}

// ── /dashboard ─────────────────────────────────────────────────────────────────────────

function dashboard(): void {
  const grid = el('main', { class: 'cards' })
  app.append(nav('dashboard'), grid)
  const history = new Map<string, { at: number; deliveries: number }[]>()
  const fig = (label: string, value: unknown, key: string) =>
    el('div', { class: 'fig', 'data-key': key }, [el('span', { class: 'label' }, [label]), el('span', { class: 'value' }, [value === undefined || value === null ? '–' : String(value)])])

  const render = (statuses: Status[], at: number) => {
    grid.replaceChildren(
      ...statuses.map((s) => {
        const points = history.get(s.name) ?? []
        if (s.deliveries !== undefined) points.push({ at, deliveries: s.deliveries })
        while (points.length > SPARK_POINTS + 1) points.shift()
        history.set(s.name, points)
        const rates = points.slice(1).map((p, i) => {
          const prev = points[i] as { at: number; deliveries: number }
          return Math.max(0, ((p.deliveries - prev.deliveries) * 1000) / Math.max(1, p.at - prev.at))
        })
        const rate = rates.at(-1)
        return el('section', { class: `card ${s.up ? 'up' : 'down'}`, 'data-service': s.name }, [
          el('h2', {}, [el('span', { class: 'dot', title: s.up ? 'up' : 'down' }), s.name, el('span', { class: 'state' }, [s.up ? 'up' : 'down'])]),
          s.up
            ? el('div', { class: 'figs' }, [
                fig('connections', s.connections, 'connections'),
                fig('channels', s.channels, 'channels'),
                fig('deliveries/s', rate === undefined ? undefined : Math.round(rate), 'rate'),
                fig('deliveries', s.deliveries, 'deliveries'),
                fig('pending', s.pending, 'pending'),
                fig('failed', s.failed, 'failed'),
                fig('redis', s.redis, 'redis'),
                fig('instances', s.instances, 'instances'),
                fig('postgres', s.postgres ?? 'off', 'postgres'),
                ...(s.workers === undefined ? [] : [fig('per worker', s.workers.map((w) => w.connections ?? '?').join(' + '), 'workers')]),
              ])
            : el('p', { class: 'error' }, [s.error ?? 'not answering']),
          sparkline(rates),
        ])
      }),
    )
  }
  const poll = async () => {
    try {
      const res = (await (await fetch('/api/status')).json()) as { services: Status[]; timestamp: number }
      render(res.services, res.timestamp)
    } catch {
      grid.classList.add('stale')
    }
    setTimeout(poll, 1000)
  }
  void poll()
}

// ── /live ──────────────────────────────────────────────────────────────────────────────

function live(): void {
  const filters = { service: '', channel: '', event: '' }
  let paused = false
  const rows = el('ol', { class: 'events' })
  const counter = el('span', { class: 'count' }, ['0 events'])
  let total = 0
  const select = el('select', { name: 'service' }, [el('option', { value: '' }, ['all services']), ...services.map((s) => el('option', { value: s.name }, [s.name]))]) as HTMLSelectElement
  const text = (name: 'channel' | 'event', placeholder: string) => {
    const input = el('input', { name, placeholder, type: 'search' }) as HTMLInputElement
    input.addEventListener('input', () => {
      filters[name] = input.value.trim()
      applyFilters()
    })
    return input
  }
  select.addEventListener('change', () => {
    filters.service = select.value
    applyFilters()
  })
  const pause = el('button', { type: 'button', name: 'pause' }, ['Pause']) as HTMLButtonElement
  pause.addEventListener('click', () => {
    paused = !paused
    pause.textContent = paused ? 'Resume' : 'Pause'
    app.classList.toggle('paused', paused)
  })
  const connections = el('ul', { class: 'conns' })
  app.append(nav('live'), el('div', { class: 'toolbar' }, [select, text('channel', 'channel contains…'), text('event', 'event contains…'), pause, counter]), connections, el('main', {}, [rows]))

  const visible = (row: HTMLElement) =>
    (filters.service === '' || row.dataset.service === filters.service) &&
    (row.dataset.channel ?? '').includes(filters.channel) &&
    (row.dataset.event ?? '').includes(filters.event)
  function applyFilters(): void {
    for (const row of rows.children) (row as HTMLElement).hidden = !visible(row as HTMLElement)
  }

  for (const service of services) {
    const badge = el('li', { 'data-service': service.name, class: 'connecting' }, [service.name])
    connections.append(badge)
    const client = new RoomcastClient({ url: service.ws, dialect: service.dialect, ackEvents: [] })
    client.onState((state) => (badge.className = state))
    client.onAny((event, data, meta) => {
      if (paused) return
      total++
      counter.textContent = `${total} events`
      const row = el('li', { 'data-service': service.name, 'data-channel': meta.channel ?? '', 'data-event': event }, [
        el('details', {}, [
          el('summary', {}, [
            el('time', {}, [new Date().toLocaleTimeString()]),
            el('span', { class: 'svc' }, [service.name]),
            el('span', { class: 'chan' }, [meta.channel ?? '(direct)']),
            el('span', { class: 'evt' }, [event]),
          ]),
          el('pre', {}, [JSON.stringify({ event, channel: meta.channel, id: meta.id, data, ...(meta.position ? { position: meta.position } : {}) }, null, 2)]),
        ]),
      ])
      row.hidden = !visible(row)
      rows.prepend(row)
      while (rows.children.length > MAX_ROWS) rows.lastElementChild?.remove()
    })
    void client.connect().then(() => Promise.allSettled(FIXED_CHANNELS.map((c) => client.subscribe(c))))
  }
}

if (location.pathname.startsWith('/live')) live()
else dashboard()
