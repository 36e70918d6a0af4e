// One half of a bare sidecar-shaped HTTP proxy pair whose hop between the halves is either
// HTTP/1.1 over a keep-alive pool of mTLS connections or HTTP/2 multiplexed over a few mTLS
// sessions. Everything else is the same in both: role `a` takes plain HTTP/1.1 from the
// client (node:http), role `b` gives plain HTTP/1.1 to the app (node:http, keep-alive). So
// two pairs that differ only in --hop cost the same except for the hop: the question issue 7
// asks of the sidecar-to-sidecar hop (bench/hop/README.md). Not a proxy to run: no routing,
// limits, retries or telemetry.
//
//   node bench/hop/hop-proxy.ts --role a|b --hop h1|h2 --listen PORT --upstream PORT
//        --bundle PEM --ca PEM [--sessions N]
//
// Prints one JSON line when listening, and `b` one per mTLS connection it accepts (how the
// test sees that an HTTP/2 hop multiplexes).
import { readFileSync } from 'node:fs';
import { createServer, Agent as HttpAgent, type IncomingHttpHeaders, type IncomingMessage, request, type ServerResponse } from 'node:http';
import {
  type ClientHttp2Session,
  createSecureServer,
  type IncomingHttpHeaders as H2Headers,
  connect as h2Connect,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import { createServer as createHttpsServer, Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Server } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    hop: { type: 'string' },
    listen: { type: 'string' },
    upstream: { type: 'string' },
    bundle: { type: 'string' },
    ca: { type: 'string' },
    sessions: { type: 'string', default: '1' },
  },
});
const { role, hop, listen, upstream, bundle, ca } = values;
const SESSIONS = Number(values.sessions);
if ((role !== 'a' && role !== 'b') || (hop !== 'h1' && hop !== 'h2') || !listen || !upstream || !bundle || !ca || !(SESSIONS >= 1)) {
  throw new Error('usage: hop-proxy.ts --role a|b --hop h1|h2 --listen PORT --upstream PORT --bundle PEM --ca PEM [--sessions N]');
}
const UPSTREAM = Number(upstream);
// The bundle is certificate + key in one PEM (HAProxy's `crt`); node takes both from it.
const pem = readFileSync(bundle);
const credentials = { cert: pem, key: pem, ca: readFileSync(ca), minVersion: 'TLSv1.3' as const };
// The CA is what is checked, as in the HAProxy pair; not the name.
const noNameCheck = () => undefined;

/** Hop-by-hop fields (RFC 9110 §7.6.1) and Host, which HTTP/2 carries as :authority. */
const CONNECTION_FIELDS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'te']);

function endToEnd(headers: IncomingHttpHeaders | H2Headers): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (name.charCodeAt(0) === 58 /* ':' */ || CONNECTION_FIELDS.has(name)) continue;
    out[name] = headers[name];
  }
  return out;
}

function fail(res: ServerResponse, error: Error): void {
  if (res.headersSent) res.destroy(error);
  else res.writeHead(502, { 'content-type': 'text/plain' }).end(`${error.message}\n`);
}

/** HTTP/1.1 on to the next hop through a keep-alive pool (plain or mTLS). */
function forwardHttp1(req: IncomingMessage, res: ServerResponse, agent: HttpAgent, tls: boolean): void {
  const send = tls ? httpsRequest : request;
  const up = send({ host: '127.0.0.1', port: UPSTREAM, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  up.on('error', (error) => fail(res, error));
  req.pipe(up);
}

/** HTTP/1.1 from the client becomes a stream on one of a few HTTP/2 sessions. */
class Sessions {
  readonly #sessions: (ClientHttp2Session | undefined)[] = new Array(SESSIONS).fill(undefined);
  #next = 0;

  pick(): ClientHttp2Session {
    const i = this.#next;
    this.#next = (i + 1) % SESSIONS;
    let session = this.#sessions[i];
    if (session === undefined || session.closed || session.destroyed) {
      session = h2Connect(`https://127.0.0.1:${UPSTREAM}`, { ...credentials, checkServerIdentity: noNameCheck });
      session.on('error', () => undefined); // the streams on it report it
      session.on('close', () => {
        if (this.#sessions[i] === session) this.#sessions[i] = undefined;
      });
      this.#sessions[i] = session;
    }
    return session;
  }
}

function forwardOverHttp2(req: IncomingMessage, res: ServerResponse, sessions: Sessions): void {
  const headers = endToEnd(req.headers);
  headers[':method'] = req.method;
  headers[':path'] = req.url;
  headers[':authority'] = req.headers.host ?? '127.0.0.1';
  const noBody = req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined;
  const stream = sessions.pick().request(headers, { endStream: noBody });
  stream.on('response', (answer) => {
    res.writeHead(Number(answer[':status']), endToEnd(answer));
    stream.pipe(res);
  });
  stream.on('error', (error) => fail(res, error));
  if (!noBody) req.pipe(stream);
}

/** An HTTP/2 stream from the peer half goes to the app as HTTP/1.1. */
function answerStream(stream: ServerHttp2Stream, headers: H2Headers, agent: HttpAgent): void {
  const out = endToEnd(headers);
  out.host = headers[':authority'];
  const up = request(
    { host: '127.0.0.1', port: UPSTREAM, method: headers[':method'], path: headers[':path'], headers: out, agent },
    (answer) => {
      const head = endToEnd(answer.headers);
      head[':status'] = answer.statusCode ?? 502;
      stream.respond(head);
      answer.pipe(stream);
    },
  );
  up.on('error', () => {
    if (stream.destroyed) return;
    if (!stream.headersSent) stream.respond({ ':status': 502 }, { endStream: true });
    else stream.close();
  });
  // The peer half reset the stream (or the session went): the app request goes too.
  stream.on('error', () => up.destroy());
  if (stream.endAfterHeaders) up.end();
  else stream.pipe(up);
}

function serve(): Server {
  const appAgent = new HttpAgent({ keepAlive: true });
  if (role === 'a') {
    if (hop === 'h1') {
      const peerAgent = new HttpsAgent({ keepAlive: true, ...credentials, checkServerIdentity: noNameCheck });
      return createServer((req, res) => forwardHttp1(req, res, peerAgent, true));
    }
    const sessions = new Sessions();
    return createServer((req, res) => forwardOverHttp2(req, res, sessions));
  }
  const mtls = { ...credentials, requestCert: true, rejectUnauthorized: true };
  const server =
    hop === 'h1'
      ? createHttpsServer(mtls, (req, res) => forwardHttp1(req, res, appAgent, false))
      : createSecureServer(mtls).on('stream', (stream, headers) => answerStream(stream, headers, appAgent));
  server.on('secureConnection', () => console.log(JSON.stringify({ msg: 'mtls connection', role, hop })));
  return server;
}

serve().listen(Number(listen), '127.0.0.1', () => {
  console.log(JSON.stringify({ msg: 'listening', role, hop, port: Number(listen) }));
});
process.on('SIGTERM', () => process.exit(0));
