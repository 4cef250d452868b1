#!/usr/bin/env node
// Baseline: a bare Express 5 server. Parses the JSON body of every PUT/POST with express.json() and
// answers {"event_id":"$"+43 chars} (the size of Hearth's send response). GET .../sync is the minimal
// long-poll of common.mjs; GET ...?pad=N answers a JSON body of N bytes; GET /_bench/waiting counts
// parked long-polls. No auth, no database: the floor a framework gives for the same load shape.
//   node bench/baselines/express.mjs <port>
import express from 'express';
import { createFanout, eventId, padded, portFromArgs, roomOfSend } from './common.mjs';

const fanout = createFanout();
const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.set('query parser', 'simple');
const json = express.json({ limit: '1mb' });

const write = (req, res) => {
  const b = req.body;
  if (b === null || typeof b !== 'object') {
    res.status(400).json({ errcode: 'M_NOT_JSON', error: 'Content not JSON.' });
    return;
  }
  const room = roomOfSend(req.path);
  res.json({ event_id: room !== undefined ? fanout.send(room, b, 'baseline') : eventId() });
};
app.put('/{*rest}', json, write);
app.post('/{*rest}', json, write);
app.get('/_bench/waiting', (_req, res) => res.json({ waiting: fanout.waiting }));
app.get('/{*rest}', (req, res) => {
  if (req.path.endsWith('/sync')) {
    const rooms = String(req.query.rooms ?? '').split(',').filter(Boolean);
    fanout.sync(rooms, Number(req.query.since ?? 0), Number(req.query.timeout ?? 0),
      (body) => { if (!res.writableEnded) res.type('application/json').send(body); },
      (fn) => res.on('close', fn));
    return;
  }
  res.type('application/json').send(req.query.pad ? padded(Number(req.query.pad)) : `{"event_id":"${eventId()}"}`);
});

const server = app.listen(portFromArgs(), '127.0.0.1', () => {
  server.keepAliveTimeout = 65_000;
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.once('SIGTERM', () => { server.close(); server.closeAllConnections(); process.exit(0); });
process.once('SIGINT', () => process.exit(0));
