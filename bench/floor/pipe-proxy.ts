// The least a Node.js sidecar pair can do per request: one half of a byte pipe, no HTTP.
// Role `a` accepts plain TCP and opens one mTLS connection to `b` per client connection;
// role `b` accepts mTLS (a client certificate from the CA is required, as HAProxy's `verify
// required`) and opens one plain connection to the app. Each chunk read is written on at
// once. No parsing, routing, pooling, telemetry or limits: it is not a proxy anyone should
// run, only the floor of what Node's event loop, TLS and sockets cost per request, next to
// which Weft's own cost can be seen (bench/floor/README.md).
//
//   node bench/floor/pipe-proxy.ts --role a|b --listen PORT --upstream PORT --bundle PEM --ca PEM
import { readFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { createServer as createTlsServer, connect as tlsConnect } from 'node:tls';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    listen: { type: 'string' },
    upstream: { type: 'string' },
    bundle: { type: 'string' },
    ca: { type: 'string' },
  },
});
const { role, listen, upstream, bundle, ca } = values;
if ((role !== 'a' && role !== 'b') || !listen || !upstream || !bundle || !ca) {
  throw new Error('usage: pipe-proxy.ts --role a|b --listen PORT --upstream PORT --bundle PEM --ca PEM');
}
// The bundle is certificate + key in one PEM (HAProxy's `crt`); node takes both from it.
const pem = readFileSync(bundle);
const credentials = { cert: pem, key: pem, ca: readFileSync(ca), minVersion: 'TLSv1.3' as const };

/** Bytes each way as they come, pausing a side while the other cannot take more. */
function splice(from: Socket, to: Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
  from.on('end', () => to.end());
  from.on('error', () => to.destroy());
  from.on('close', () => to.destroy());
}

function join(client: Socket, server: Socket): void {
  client.setNoDelay(true);
  server.setNoDelay(true);
  splice(client, server);
  splice(server, client);
}

const server =
  role === 'a'
    ? createServer((client) => {
        // The servername and identity are not checked, as HAProxy's pair does not: the CA is.
        const up = tlsConnect({ ...credentials, host: '127.0.0.1', port: Number(upstream), checkServerIdentity: () => undefined });
        join(client, up);
      })
    : createTlsServer({ ...credentials, requestCert: true, rejectUnauthorized: true }, (client) => {
        join(client, connect({ host: '127.0.0.1', port: Number(upstream) }));
      });
server.listen(Number(listen), '127.0.0.1', () => {
  console.log(JSON.stringify({ msg: 'listening', role, port: Number(listen) }));
});
process.on('SIGTERM', () => process.exit(0));
