// `weft apply -f FILE [--wait]` and `weft delete -f FILE`: send documents to the control
// plane. With --wait, apply returns only once every sidecar has ACKed the change, or
// names the sidecars that NACKed it and why (exit 1).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { AdminError, adminRequest, DEFAULT_SERVER } from '../admin-client.ts';
import { formatTable } from '../output/table.ts';
import { UserError } from './shared.ts';

interface CommitResponse {
  changeId: number;
  created: string[];
  updated: string[];
  deleted: string[];
  unchanged: string[];
}

interface ChangeStatus {
  changeId: number;
  done: boolean;
  sidecars: { node: string; service: string; state: 'synced' | 'pending' | 'nacked'; error?: string }[];
}

export function registerApply(program: Command): void {
  program
    .command('apply')
    .description('create or update mesh resources from a YAML file')
    .requiredOption('-f, --filename <file>', 'YAML file, or - for standard input')
    .option('--wait', 'return once every sidecar has applied the change')
    .option('--timeout <seconds>', 'how long --wait waits', '30')
    .option('--server <url>', 'control plane admin API', DEFAULT_SERVER)
    .action(async (opts) => {
      const result = await send(opts.server, '/api/apply', opts.filename);
      printCommit(result);
      if (opts.wait) await waitForChange(opts.server, result.changeId, Number(opts.timeout) * 1000);
    });

  program
    .command('delete')
    .description('delete the mesh resources named in a YAML file')
    .requiredOption('-f, --filename <file>', 'YAML file, or - for standard input')
    .option('--server <url>', 'control plane admin API', DEFAULT_SERVER)
    .action(async (opts) => {
      printCommit(await send(opts.server, '/api/delete', opts.filename));
    });
}

async function send(server: string, path: string, filename: string): Promise<CommitResponse> {
  let text: string;
  try {
    text = readFileSync(filename === '-' ? 0 : filename, 'utf8');
  } catch (error) {
    throw new UserError(`cannot read ${filename}: ${(error as Error).message}`);
  }
  const name = filename === '-' ? 'stdin' : basename(filename);
  try {
    return await adminRequest<CommitResponse>(server, `${path}?file=${encodeURIComponent(name)}`, { method: 'POST', body: text });
  } catch (error) {
    if (error instanceof AdminError)
      throw new UserError(`${filename} rejected; nothing was changed`, error.details.length ? error.details : [error.message]);
    throw error;
  }
}

function printCommit(result: CommitResponse): void {
  const lines = [
    ...result.created.map((k) => `${k} created`),
    ...result.updated.map((k) => `${k} updated`),
    ...result.deleted.map((k) => `${k} deleted`),
    ...result.unchanged.map((k) => `${k} unchanged`),
  ];
  for (const line of lines) console.log(line);
  console.log(`change ${result.changeId}`);
}

async function waitForChange(server: string, changeId: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let status: ChangeStatus;
  for (;;) {
    status = await adminRequest<ChangeStatus>(server, `/api/changes/${changeId}`);
    if (status.done || Date.now() >= deadline) break;
    await sleep(100);
  }
  const nacked = status.sidecars.filter((s) => s.state === 'nacked');
  const pending = status.sidecars.filter((s) => s.state === 'pending');
  if (nacked.length === 0 && pending.length === 0) {
    console.log(`change ${changeId} applied by all ${status.sidecars.length} sidecars`);
    return;
  }
  console.log(
    formatTable(
      ['SIDECAR', 'SERVICE', 'STATE', 'ERROR'],
      status.sidecars.map((s) => [s.node, s.service, s.state.toUpperCase(), s.error ?? '']),
    ),
  );
  const problems = [
    nacked.length ? `${nacked.length} sidecar(s) rejected it` : '',
    pending.length ? `${pending.length} sidecar(s) had not applied it after ${timeoutMs / 1000}s` : '',
  ].filter(Boolean);
  throw new UserError(`change ${changeId} did not land everywhere: ${problems.join('; ')}`);
}
