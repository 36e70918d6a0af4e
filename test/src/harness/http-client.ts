// A small HTTP/1.1 client for tests: send through a sidecar's outbound port with a Host
// header (or as an absolute-form proxy request) and get status, headers and body.
import { type Agent, request as httpRequest } from 'node:http';

export interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

export interface RequestSpec {
  readonly port: number;
  readonly host?: string;
  readonly path?: string;
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer | string;
  readonly agent?: Agent;
  readonly timeoutMs?: number;
}

export function send(spec: RequestSpec): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: spec.port,
        method: spec.method ?? 'GET',
        path: spec.path ?? '/',
        headers: { ...(spec.host ? { host: spec.host } : {}), ...spec.headers },
        agent: spec.agent ?? false,
        timeout: spec.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request to port ${spec.port} timed out`)));
    req.on('error', reject);
    req.end(spec.body);
  });
}

/** JSON body of an echo app reply. */
export function appOf(reply: Reply): string {
  return (JSON.parse(reply.body) as { app: string }).app;
}
