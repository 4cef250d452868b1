#!/usr/bin/env node
// Baseline: a bare node:http server. Reads and JSON.parses the body of every PUT/POST and answers
// {"event_id":"$"+43 chars} (the size of Hearth's send response). GET .../sync is the minimal long-poll
// of common.mjs; GET ...?pad=N answers a JSON body of N bytes; GET /_bench/waiting counts parked
// long-polls. No framework, no auth, no database: the floor of Node itself for the same load shape.
//   node bench/baselines/node-http.mjs <port>
import { createServer } from 'node:http';
import { createFanout, eventId, padded, portFromArgs, roomOfSend } from './common.mjs';

const fanout = createFanout();
const send = (res, status, body) => {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
};

const server = createServer((req, res) => {
  const q = req.url.indexOf('?');
  const path = q < 0 ? req.url : req.url.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : req.url.slice(q + 1));
  if (req.method === 'PUT' || req.method === 'POST') {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > 1_048_576) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      let b;
      try {
        b = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        send(res, 400, '{"errcode":"M_NOT_JSON","error":"Content not JSON."}');
        return;
      }
      if (b === null || typeof b !== 'object') {
        send(res, 400, '{"errcode":"M_NOT_JSON","error":"Content not JSON."}');
        return;
      }
      const room = roomOfSend(path);
      send(res, 200, JSON.stringify({ event_id: room !== undefined ? fanout.send(room, b, 'baseline') : eventId() }));
    });
    return;
  }
  if (path === '/_bench/waiting') return send(res, 200, JSON.stringify({ waiting: fanout.waiting }));
  if (path.endsWith('/sync')) {
    const rooms = (query.get('rooms') ?? '').split(',').filter(Boolean);
    fanout.sync(rooms, Number(query.get('since') ?? 0), Number(query.get('timeout') ?? 0),
      (body) => { if (!res.writableEnded) send(res, 200, body); },
      (fn) => res.on('close', fn));
    return;
  }
  const pad = query.get('pad');
  send(res, 200, pad ? padded(Number(pad)) : `{"event_id":"${eventId()}"}`);
});
server.keepAliveTimeout = 65_000;
server.listen(portFromArgs(), '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
process.once('SIGTERM', () => { server.close(); server.closeAllConnections(); process.exit(0); });
process.once('SIGINT', () => process.exit(0));
