// The reference topology: two HAProxies in the sidecar-pair shape, client → A → (mTLS,
// TLS 1.3, RSA-2048 client and server certificates) → B → app. A has one frontend per
// protocol (HTTP/1.1, cleartext HTTP/2) so each travels the hop in its own ALPN.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Child } from '@weft/cli/child-process';
import type { OwnedProcesses } from '../system/owned-processes.ts';
import { makeCertificates } from './certs.ts';
import { freePorts } from './ports.ts';
import { waitListening } from './wait-listening.ts';

export interface HaproxyPair {
  readonly a: Child;
  readonly b: Child;
  /** A's frontends, where clients send. */
  readonly h1Port: number;
  readonly h2Port: number;
}

export interface HaproxyPorts {
  readonly aH1: number;
  readonly aH2: number;
  readonly bH1: number;
  readonly bH2: number;
  readonly appH1: number;
  readonly appH2: number;
}

const GLOBAL = `global
  nbthread 1
  maxconn 4096
  ssl-default-bind-options ssl-min-ver TLSv1.3
  ssl-default-server-options ssl-min-ver TLSv1.3
  tune.ssl.default-dh-param 2048

defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
  http-reuse always
`;

/** A: plain listeners for the client, mTLS to B. */
export function haproxyAConfig(ports: HaproxyPorts, crt: string, caFile: string): string {
  const tls = `ssl crt ${crt} ca-file ${caFile} verify required`;
  return `# written by weft bench: the client-side proxy
${GLOBAL}
frontend out_h1
  bind 127.0.0.1:${ports.aH1}
  default_backend b_h1

frontend out_h2
  bind 127.0.0.1:${ports.aH2} proto h2
  default_backend b_h2

backend b_h1
  server b 127.0.0.1:${ports.bH1} ${tls} alpn http/1.1

backend b_h2
  server b 127.0.0.1:${ports.bH2} ${tls} alpn h2
`;
}

/** B: mTLS listeners that require a client certificate from the CA, plain to the app. */
export function haproxyBConfig(ports: HaproxyPorts, crt: string, caFile: string): string {
  const tls = `ssl crt ${crt} ca-file ${caFile} verify required`;
  return `# written by weft bench: the server-side proxy
${GLOBAL}
frontend in_h1
  bind 127.0.0.1:${ports.bH1} ${tls} alpn http/1.1
  default_backend app_h1

frontend in_h2
  bind 127.0.0.1:${ports.bH2} ${tls} alpn h2
  default_backend app_h2

backend app_h1
  server app 127.0.0.1:${ports.appH1}

backend app_h2
  server app 127.0.0.1:${ports.appH2} proto h2
`;
}

export async function startHaproxyPair(
  processes: OwnedProcesses,
  dir: string,
  app: { h1Port: number; h2Port: number },
  cpus: string | undefined,
  logDir: string,
): Promise<HaproxyPair> {
  const certs = makeCertificates(dir, ['client', 'app']);
  const [aH1, aH2, bH1, bH2] = (await freePorts(4)) as [number, number, number, number];
  const ports: HaproxyPorts = { aH1, aH2, bH1, bH2, appH1: app.h1Port, appH2: app.h2Port };
  const start = (name: 'a' | 'b', config: string, listen: number[]) => {
    const file = join(dir, `haproxy-${name}.cfg`);
    writeFileSync(file, config);
    const child = processes.start({
      name: `haproxy ${name}`,
      command: 'haproxy',
      // -db: stay in the foreground, one process; -f: our config only.
      args: ['-db', '-f', file],
      cpus,
      logFile: join(logDir, `haproxy-${name}.log`),
    });
    return { child, ready: waitListening(child, listen) };
  };
  const b = start('b', haproxyBConfig(ports, certs.bundle['app'] as string, certs.caFile), [bH1, bH2]);
  const a = start('a', haproxyAConfig(ports, certs.bundle['client'] as string, certs.caFile), [aH1, aH2]);
  await Promise.all([a.ready, b.ready]);
  return { a: a.child, b: b.child, h1Port: aH1, h2Port: aH2 };
}
