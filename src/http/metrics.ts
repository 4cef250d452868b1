// Prometheus metrics (prom-client), one registry per server (no global state): request counts and
// latency per endpoint, live sessions, waiting /syncs, events persisted, typing and presence timers,
// storage time for event writes. Served at GET /metrics to loopback clients or with an admin token.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { forbidden } from '../errors.js';
import type { Services } from '../services.js';
import { authenticate } from './auth.js';
import type { Request, Response } from 'express';

export interface Metrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  latency: Histogram<'method' | 'route'>;
  eventsPersisted: Counter<string>;
  persistSeconds: Histogram<string>;
}

export function createMetrics(services: Services, opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'hearth_' });
  const requests = new Counter({ name: 'hearth_http_requests_total', help: 'HTTP requests by endpoint and status', labelNames: ['method', 'route', 'status'] as const, registers: [registry] });
  const latency = new Histogram({
    name: 'hearth_http_request_duration_seconds', help: 'HTTP request latency by endpoint (long-polls included)',
    labelNames: ['method', 'route'] as const, buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30], registers: [registry],
  });
  const eventsPersisted = new Counter({ name: 'hearth_events_persisted_total', help: 'Room events persisted', registers: [registry] });
  // hearth_sqlite_persist_event_seconds on SQLite (its name before PostgreSQL came), hearth_postgres_... there.
  const engine = services.storage.engine;
  const persistSeconds = new Histogram({
    name: `hearth_${engine}_persist_event_seconds`, help: `Time spent in each ${engine === 'postgres' ? 'PostgreSQL' : 'SQLite'} transaction that persists events (one or a group commit of several)`,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05], registers: [registry],
  });
  new Gauge({ name: 'hearth_sessions_live', help: 'Live client sessions', registers: [registry], collect() { this.set(services.sessions.store.size); } });
  new Gauge({ name: 'hearth_sync_waiting', help: 'Requests waiting in /sync', registers: [registry], collect() { this.set(services.notifier.waiting); } });
  new Gauge({ name: 'hearth_typing_live', help: 'Live typing notifications', registers: [registry], collect() { this.set(services.typing.size); } });
  new Gauge({ name: 'hearth_deadlines_pending', help: 'Pending deadlines (session idle, typing, presence idle) in the one timer queue', registers: [registry], collect() { this.set(services.deadlines.size); } });
  services.events.addListener({ onEventPersisted: () => eventsPersisted.inc() });
  services.events.onPersistTiming((seconds) => persistSeconds.observe(seconds));
  return { registry, requests, latency, eventsPersisted, persistSeconds };
}

/** Counts a finished request under its route pattern (not the raw path: IDs would explode the labels). */
export function recordRequest(metrics: Metrics, req: Request, res: Response, seconds: number): void {
  const route = typeof res.locals.route === 'string' ? res.locals.route : 'unmatched';
  metrics.requests.inc({ method: req.method ?? '', route, status: String(res.statusCode) });
  metrics.latency.observe({ method: req.method ?? '', route }, seconds);
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** GET /metrics: loopback clients, or anyone with a server admin's access token. */
export function metricsHandler(services: Services, metrics: Metrics) {
  return async (req: Request, res: Response): Promise<void> => {
    const fromLoopback = LOOPBACK.has(req.socket.remoteAddress ?? '');
    if (!fromLoopback) {
      const auth = await authenticate(services, req, true);
      if (!auth?.isAdmin) throw forbidden('Metrics are available from loopback or to server admins');
    }
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.end(await metrics.registry.metrics());
  };
}
