// The dashboard page (docs/dashboard.md): /dashboard shows a card per service with its channels,
// /live the event stream. Read-only: it observes and reads status, never publishes or subscribes.
// Bundled by esbuild at build.
import { RoomcastClient } from '../src/client/index.js'
import type { EventMeta } from '../src/client/types.js'
import type { ChannelDetail, ServiceStatus as Status, ServiceTarget } from '../src/dashboard/status-poll.js'
import { el, sparkline } from './dom.js'

/** A service as /api/services lists it; its dialect picks the client's codec. */
type Service = ServiceTarget & { readonly dialect: 'envelope' | 'flat' }
type Json = Record<string, unknown>

const MAX_ROWS = 500
const SPARK_POINTS = 30
const MAX_CHANNEL_ROWS = 12
/** Every channel of a service: the observer pattern (docs/protocol.md A.9). */
const EVERY_CHANNEL = '*'

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

/**
 * Observes every channel of a service (an observer owes no ack: nothing it sees is tracked for
 * it). `state` gets the connection state, or `refused` with the server's reason.
 */
function observe(service: Service, onEvent: (event: string, data: Json, meta: EventMeta) => void, state: (state: string, why?: string) => void): void {
  const client = new RoomcastClient({ url: service.ws, dialect: service.dialect, ackEvents: [] })
  client.onState((s) => state(s))
  client.onAny(onEvent)
  client.connect().then(
    () => client.observe(EVERY_CHANNEL).then(() => state('open observing'), (err: Error) => state('refused', err.message)),
    (err: Error) => state('closed', err.message),
  )
}

/** A presence panel's title: every connection counted; a list of one page (at most 1,000) says so. */
const presenceTitle = (listed: number, clients: unknown) =>
  typeof clients === 'number' && clients > listed ? `Presence: ${clients} connected (the first ${listed} listed)` : `Presence: ${listed} connected`

const ago = (at: number) => {
  const s = Math.max(0, Math.round((Date.now() - at) / 1000))
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.floor(s / 60)}m ago` : `${Math.floor(s / 3600)}h ago`
}

// ── /dashboard ─────────────────────────────────────────────────────────────────────────

function dashboard(): void {
  const grid = el('main', { class: 'cards' })
  const detail = el('aside', { class: 'detail', hidden: '' })
  app.append(nav('dashboard'), grid, detail)
  const history = new Map<string, { at: number; deliveries: number }[]>()
  /** Service → channel → its last event, as the dashboard's observer saw it. */
  const lastEvents = new Map<string, Map<string, { event: string; at: number }>>()
  let selected: { service: string; channel: string } | null = null
  /** Services whose every channel the page observes now (data-observing on the card). */
  const observing = new Set<string>()
  for (const service of services) {
    const seen = new Map<string, { event: string; at: number }>()
    lastEvents.set(service.name, seen)
    observe(
      service,
      (event, _data, meta) => meta.channel !== null && seen.set(meta.channel, { event, at: Date.now() }),
      (state) => (state === 'open observing' ? observing.add(service.name) : observing.delete(service.name)),
    )
  }
  const fig = (label: string, value: unknown, key: string) =>
    el('div', { class: 'fig', 'data-key': key }, [el('span', { class: 'label' }, [label]), el('span', { class: 'value' }, [value === undefined || value === null ? '–' : String(value)])])

  const channels = (s: Status) => {
    const counts = s.channelCounts ?? {}
    const seen = lastEvents.get(s.name) ?? new Map()
    const names = [...new Set([...Object.keys(counts), ...seen.keys()])].sort()
    const rows = names.slice(0, MAX_CHANNEL_ROWS).map((name) => {
      const last = seen.get(name)
      const presence = s.presence?.includes(name) === true
      const row = el('tr', { 'data-channel': name, class: selected?.service === s.name && selected.channel === name ? 'selected' : '' }, [
        el('td', { class: 'chan' }, [name]),
        el('td', { class: 'num', title: 'subscribers' }, [String(counts[name] ?? 0)]),
        el('td', { class: 'presence' }, [presence ? 'presence' : '']),
        el('td', { class: 'last' }, [last === undefined ? '' : `${last.event} · ${ago(last.at)}`]),
      ])
      row.addEventListener('click', () => {
        selected = { service: s.name, channel: name }
        void showDetail()
      })
      return row
    })
    const more = names.length - rows.length
    return el('table', { class: 'channels' }, [
      el('thead', {}, [el('tr', {}, [el('th', {}, ['channel']), el('th', {}, ['subs']), el('th', {}, ['']), el('th', {}, ['last event'])])]),
      el('tbody', {}, rows.length === 0 ? [el('tr', {}, [el('td', { colspan: '4', class: 'muted' }, ['no channel in use, no event seen yet'])])] : rows),
      ...(more > 0 ? [el('caption', {}, [`+${more} more`])] : []),
    ])
  }

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
        return el('section', { class: `card ${s.up ? 'up' : 'down'}`, 'data-service': s.name, 'data-observing': String(observing.has(s.name)) }, [
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
                ...(s.cluster === undefined ? [] : [fig('redis cluster', s.cluster, 'cluster')]),
                fig('postgres', s.postgres ?? 'off', 'postgres'),
                ...(s.workers === undefined ? [] : [fig('per worker', s.workers.map((w) => w.connections ?? '?').join(' + '), 'workers')]),
              ])
            : el('p', { class: 'error' }, [s.error ?? 'not answering']),
          sparkline(rates),
          ...(s.up ? [channels(s)] : []),
        ])
      }),
    )
  }

  /** The selected channel's panel: its presence and recent history, read through the dashboard. */
  async function showDetail(): Promise<void> {
    const pick = selected
    if (pick === null) return
    const res = await fetch(`/api/channel?service=${encodeURIComponent(pick.service)}&channel=${encodeURIComponent(pick.channel)}`)
    const d = (await res.json()) as ChannelDetail
    if (selected !== pick) return
    const presence = d.presence as Json
    const members = Array.isArray(presence.members) ? (presence.members as Json[]) : null
    const pubs = Array.isArray((d.history as Json).publications) ? ((d.history as Json).publications as Json[]) : null
    const close = el('button', { type: 'button', name: 'close' }, ['×'])
    close.addEventListener('click', () => {
      selected = null
      detail.hidden = true
    })
    detail.replaceChildren(
      el('h2', {}, [`${pick.service} · ${pick.channel}`, close]),
      el('h3', {}, [members === null ? 'Presence' : presenceTitle(members.length, presence.clients)]),
      members === null
        ? el('p', { class: 'muted' }, [String(presence.error ?? 'none')])
        : el(
            'ul',
            { class: 'members' },
            members.map((m) =>
              el('li', { 'data-user': String(m.user_id ?? '') }, [
                el('b', {}, [String(m.user_id ?? 'anonymous')]),
                ` session ${String(m.session_id ?? '–')} · ${String(m.connection_id)} · since ${String(m.connected_at)} · ${String(m.instance).slice(0, 8)}`,
              ]),
            ),
          ),
      el('h3', {}, ['Recent history']),
      pubs === null
        ? el('p', { class: 'muted' }, [String((d.history as Json).error ?? 'none')])
        : el(
            'ol',
            { class: 'events' },
            pubs.map((p) => el('li', {}, [el('span', { class: 'evt' }, [`#${String(p.offset)} ${String(p.event)}`]), ' ', JSON.stringify(p.data)])),
          ),
    )
    detail.hidden = false
  }

  const poll = async () => {
    try {
      const res = (await (await fetch('/api/status')).json()) as { services: Status[]; timestamp: number }
      render(res.services, res.timestamp)
      grid.classList.remove('stale')
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
  const empty = el('p', { class: 'empty' }, [
    `Listening to every channel (observer pattern "${EVERY_CHANNEL}") of ${services.map((s) => `${s.name} (${s.ws})`).join(', ')}. ` +
      'Every event published to any of their channels appears here as it happens, newest first; nothing was published since this page opened.',
  ])
  app.append(nav('live'), el('div', { class: 'toolbar' }, [select, text('channel', 'channel contains…'), text('event', 'event contains…'), pause, counter]), connections, el('main', {}, [empty, rows]))

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
    const onEvent = (event: string, data: Json, meta: EventMeta) => {
      if (paused) return
      total++
      counter.textContent = `${total} events`
      empty.remove()
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
    }
    observe(service, onEvent, (state, why) => {
      badge.className = state
      badge.title = why ?? state
      if (why !== undefined) badge.textContent = `${service.name}: ${why}`
    })
  }
}

if (location.pathname.startsWith('/live')) live()
else dashboard()
