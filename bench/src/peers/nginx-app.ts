// The app behind every topology: one nginx worker (master_process off, so the PID we hold
// is the one doing the work) on loopback, answering from memory or small static files.
// One port speaks HTTP/1.1, another cleartext HTTP/2 (prior knowledge) including a gRPC
// method whose answer is an empty message with grpc-status 0 in the trailers.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Child } from '@weft/cli/child-process';
import type { OwnedProcesses } from '../system/owned-processes.ts';
import { freePorts } from './ports.ts';
import { waitListening } from './wait-listening.ts';

/** Paths the app serves, by response size. */
export const APP_PATHS = { tiny: '/', '1k': '/1k', '64k': '/64k', grpc: '/bench.Echo/Ping' } as const;

/** A gRPC frame: not compressed, length 0 (an empty protobuf message). */
export const EMPTY_GRPC_FRAME = Buffer.alloc(5);

export interface NginxApp {
  readonly child: Child;
  readonly h1Port: number;
  readonly h2Port: number;
}

export function nginxConfig(dir: string, h1Port: number, h2Port: number): string {
  const locations = `
    root ${dir}/www;
    location = ${APP_PATHS.tiny} { return 200 "ok"; }
    location = ${APP_PATHS['1k']} { }
    location = ${APP_PATHS['64k']} { }`;
  return `# written by weft bench; runs in the foreground as one process
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  default_type application/octet-stream;
  open_file_cache max=16;
  sendfile on;
  tcp_nodelay on;
  # Proxies keep their upstream connections: never make them reconnect.
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  server {
    listen 127.0.0.1:${h1Port} backlog=4096;${locations}
  }
  server {
    listen 127.0.0.1:${h2Port} http2 backlog=4096;
    http2_max_requests 100000000;${locations}
    location = ${APP_PATHS.grpc} {
      alias ${dir}/www/grpc-empty.bin;
      default_type application/grpc;
      add_trailer grpc-status 0;
      add_trailer grpc-message "";
      # A static file answers POST with 405; turn that into the file itself.
      error_page 405 =200 $uri;
    }
  }
}
`;
}

export async function startNginxApp(processes: OwnedProcesses, dir: string, cpus: string | undefined, logDir: string): Promise<NginxApp> {
  mkdirSync(join(dir, 'www'), { recursive: true });
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  writeFileSync(join(dir, 'www', '1k'), 'x'.repeat(1024));
  writeFileSync(join(dir, 'www', '64k'), 'x'.repeat(64 * 1024));
  writeFileSync(join(dir, 'www', 'grpc-empty.bin'), EMPTY_GRPC_FRAME);
  const [h1Port, h2Port] = (await freePorts(2)) as [number, number];
  const configFile = join(dir, 'nginx.conf');
  writeFileSync(configFile, nginxConfig(dir, h1Port, h2Port));
  const child = processes.start({
    name: 'nginx',
    command: 'nginx',
    args: ['-p', dir, '-c', configFile, '-e', join(dir, 'nginx-error.log')],
    cpus,
    logFile: join(logDir, 'nginx.log'),
  });
  await waitListening(child, [h1Port, h2Port]);
  return { child, h1Port, h2Port };
}
