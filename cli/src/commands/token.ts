// `weft token create|list|revoke`: join tokens, each bound to one workload identity. A new
// sidecar proves who it is with one (`weft proxy --token`, or WEFT_TOKEN) to get its first
// certificate. Through the control plane's admin API, or offline in its data directory
// (--data-dir) to provision sidecars before it starts.
import { Command } from 'commander';
import { adminRequest, DEFAULT_SERVER } from '../admin-client.ts';
import { formatTable } from '../output/table.ts';
import { UserError } from './shared.ts';

interface CreatedToken {
  token: string;
  id: string;
  spiffeId: string;
  expiresAt: string;
}

interface TokenRow {
  id: string;
  spiffeId: string;
  createdAt: string;
  expiresAt: string;
  revokedAt?: string;
  state: string;
}

export function registerToken(program: Command): void {
  const token = new Command('token').description('join tokens: how a new sidecar proves its identity');

  token
    .command('create')
    .description('create a join token for one service; prints the token')
    .requiredOption('--service <name>', 'the service the token is for')
    .option('--namespace <name>', 'namespace of the service', 'default')
    .option('--ttl <duration>', 'how long the token can be used, e.g. 30m, 1h, 7d', '1h')
    .option('-o, --output <format>', 'text (the token alone on stdout) or json', 'text')
    .option('--server <url>', 'control plane admin API', DEFAULT_SERVER)
    .option('--data-dir <dir>', "write into a control plane's data directory instead (offline)")
    .option('--trust-domain <domain>', 'with --data-dir: the trust domain', 'cluster.local')
    .action(async (opts) => {
      let created: CreatedToken;
      if (opts.dataDir) {
        const { TokenStore, parseTokenRequest } = await import('@weft/control-plane');
        const request = parseTokenRequest({ service: opts.service, namespace: opts.namespace, ttl: opts.ttl });
        if (!request.ok) throw new UserError('invalid token request', request.errors);
        created = new TokenStore(opts.dataDir).create(
          { trustDomain: opts.trustDomain, namespace: request.namespace, serviceAccount: request.service },
          request.ttlMs,
        );
      } else {
        created = await adminRequest<CreatedToken>(opts.server, '/api/tokens', {
          method: 'POST',
          body: JSON.stringify({ service: opts.service, namespace: opts.namespace, ttl: opts.ttl }),
          contentType: 'application/json',
        });
      }
      if (opts.output === 'json') {
        console.log(JSON.stringify(created, null, 2));
        return;
      }
      console.error(`token ${created.id} for ${created.spiffeId}, valid until ${created.expiresAt}`);
      console.log(created.token);
    });

  token
    .command('list')
    .description('list join tokens (never their secrets)')
    .option('-o, --output <format>', 'table or json', 'table')
    .option('--server <url>', 'control plane admin API', DEFAULT_SERVER)
    .option('--data-dir <dir>', "read a control plane's data directory instead (offline)")
    .action(async (opts) => {
      let tokens: TokenRow[];
      if (opts.dataDir) {
        const { TokenStore } = await import('@weft/control-plane');
        tokens = new TokenStore(opts.dataDir).list();
      } else {
        tokens = (await adminRequest<{ tokens: TokenRow[] }>(opts.server, '/api/tokens')).tokens;
      }
      if (opts.output === 'json') {
        console.log(JSON.stringify(tokens, null, 2));
        return;
      }
      console.log(
        formatTable(
          ['ID', 'IDENTITY', 'EXPIRES', 'STATE'],
          tokens.map((t) => [t.id, t.spiffeId, t.expiresAt, t.state.toUpperCase()]),
        ),
      );
    });

  token
    .command('revoke')
    .description('revoke a join token: it can no longer get certificates (issued ones stay valid until they expire)')
    .argument('<id>', 'token id, as `weft token create` and `weft token list` show it')
    .option('--server <url>', 'control plane admin API', DEFAULT_SERVER)
    .option('--data-dir <dir>', "write into a control plane's data directory instead (offline)")
    .action(async (id: string, opts) => {
      if (!/^[0-9a-f]{16}$/.test(id)) throw new UserError(`"${id}" is not a token id (16 hex digits)`);
      if (opts.dataDir) {
        const { TokenStore } = await import('@weft/control-plane');
        if (!new TokenStore(opts.dataDir).revoke(id)) throw new UserError(`no token ${id} in ${opts.dataDir}`);
      } else {
        await adminRequest(opts.server, `/api/tokens/${id}`, { method: 'DELETE' });
      }
      console.log(`token ${id} revoked`);
    });

  program.addCommand(token);
}
