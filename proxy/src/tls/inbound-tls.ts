// The inbound port: detects from the first byte whether a connection speaks TLS (a TLS
// record starts with 0x16, handshake) and terminates mutual TLS with the current
// certificate; the client must present a certificate that chains to the trust bundle and
// carries a SPIFFE ID, which is recorded on the socket. Plaintext is refused in strict mode
// and passed through in permissive (and disabled) mode. Either way the HTTP server gets the
// socket: the one for the protocol the client chose by ALPN (or, in plaintext, by its
// first bytes: the HTTP/2 preface), else the HTTP/1.1 one. Rotation swaps the TLS context for new connections; open ones keep theirs.
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { type Credentials, spiffeIdOfSan } from '@weft/certs';
import type { Logger } from 'pino';
import { isH2Preface } from '../http/h2-server.ts';
import { ALPN_PROTOCOLS } from './client-tls.ts';
import { setPeerIdentity } from './peer-identity.ts';

export type MtlsMode = 'strict' | 'permissive' | 'disabled';

export interface InboundTlsOptions {
  readonly credentials: Credentials;
  /** Read per connection, so a mode change applies to the next one. */
  readonly mode: () => MtlsMode;
  /** Where accepted sockets go (the HTTP/1.1 codec), with bytes already read from them. */
  readonly accept: (socket: Socket, seen?: Buffer) => void;
  /** Where sockets go by ALPN protocol id (before the HTTP/1.1 default, which is `accept`). */
  readonly alpn?: Readonly<Record<string, (socket: Socket, seen?: Buffer) => void>>;
  readonly log: Logger;
  /** How long a new connection may stay silent, and a handshake may take. */
  readonly handshakeTimeoutMs?: number;
}

const TLS_HANDSHAKE = 0x16;
const REFUSAL_BODY = 'weft: this port accepts mutual TLS only (mtls mode is strict)\n';
const REFUSAL =
  'HTTP/1.1 403 Forbidden\r\nconnection: close\r\ncontent-type: text/plain; charset=utf-8\r\n' +
  `content-length: ${Buffer.byteLength(REFUSAL_BODY)}\r\n\r\n${REFUSAL_BODY}`;

export function createInboundTlsListener(options: InboundTlsOptions): NetServer {
  const { credentials, log } = options;
  const timeoutMs = options.handshakeTimeoutMs ?? 10_000;
  const tlsServer = createTlsServer({
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: [...Object.keys(options.alpn ?? {}), ...ALPN_PROTOCOLS],
    minVersion: 'TLSv1.3',
    handshakeTimeout: timeoutMs,
    ...credentials.contextOptions,
  });
  const update = () => {
    const context = credentials.contextOptions;
    if (context) tlsServer.setSecureContext(context);
  };
  credentials.onChange(update);

  tlsServer.on('secureConnection', (socket: TLSSocket) => {
    const id = spiffeIdOfSan(socket.getPeerCertificate().subjectaltname);
    if (!id.ok) {
      log.debug({ peer: socket.remoteAddress, error: id.error.message }, 'inbound mTLS peer refused');
      socket.destroy();
      return;
    }
    setPeerIdentity(socket, id.spiffeId);
    const handoff = typeof socket.alpnProtocol === 'string' ? options.alpn?.[socket.alpnProtocol] : undefined;
    (handoff ?? options.accept)(socket);
  });
  tlsServer.on('tlsClientError', (error, socket) => {
    log.debug({ peer: socket.remoteAddress, error: error.message }, 'inbound TLS handshake failed');
  });

  return createNetServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    socket.setTimeout(timeoutMs, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.once('data', (first: Buffer) => {
      socket.setTimeout(0);
      socket.pause();
      if (first[0] === TLS_HANDSHAKE) {
        socket.unshift(first);
        if (!credentials.contextOptions) {
          socket.destroy(); // no certificate yet: nobody is sent here before we announce ourselves
          return;
        }
        tlsServer.emit('connection', socket);
      } else if (options.mode() !== 'strict') {
        // Both codecs read the socket's handle themselves: the bytes go to them, not back on
        // the stream.
        const h2 = options.alpn?.['h2'];
        if (h2 && first.length >= 3 && isH2Preface(first) !== 'no') {
          h2(socket, first);
          return;
        }
        options.accept(socket, first);
      } else {
        log.debug({ peer: socket.remoteAddress }, 'plaintext connection refused (mtls mode is strict)');
        // A short answer an HTTP client can show; anything else is just closed.
        if (isAsciiLetter(first[0])) socket.end(REFUSAL);
        else socket.destroy();
      }
    });
  });
}

function isAsciiLetter(byte: number | undefined): boolean {
  return byte !== undefined && ((byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122));
}
