import { describe, expect, it } from 'vitest';
import { h2Command, heyPacedCommand, pacedCommand, wrkCommand } from './load-commands.ts';

describe('load commands', () => {
  it('wrk: one thread, the connections, a latency distribution and the Host header', () => {
    expect(wrkCommand({ port: 4000, path: '/1k', host: 'app' }, 64, 8)).toEqual({
      command: 'wrk',
      args: ['-t1', '-c64', '-d8s', '--latency', '--timeout', '5s', '-H', 'Host: app', 'http://127.0.0.1:4000/1k'],
    });
  });

  it('paced: h2load over HTTP/1.1 at a rate per connection, logging each request', () => {
    const { command, args } = pacedCommand({ port: 4000, path: '/', host: 'app' }, 10, 100, 8, '/tmp/x.log');
    expect(command).toBe('h2load');
    expect(args).toEqual([
      '--h1',
      '-t1',
      '-c10',
      '--rps=100',
      '-D8',
      '--log-file=/tmp/x.log',
      '-H',
      ':authority: app',
      'http://127.0.0.1:4000/',
    ]);
  });

  it('paced with hey: workers × rate per worker, for a duration', () => {
    expect(heyPacedCommand({ port: 4000, path: '/', host: 'app' }, 10, 100, 8).args).toEqual([
      '-z',
      '8s',
      '-c',
      '10',
      '-q',
      '100',
      '-host',
      'app',
      'http://127.0.0.1:4000/',
    ]);
  });

  it('gRPC: a POST of the body file with the gRPC headers, over h2c', () => {
    const { args } = h2Command({ port: 4000, path: '/bench.Echo/Ping' }, 8, 8, 5, undefined, '/tmp/empty.bin');
    expect(args).toEqual([
      '-t1',
      '-c8',
      '-m8',
      '-D5',
      '-d',
      '/tmp/empty.bin',
      '-H',
      'content-type: application/grpc',
      '-H',
      'te: trailers',
      'http://127.0.0.1:4000/bench.Echo/Ping',
    ]);
  });
});
