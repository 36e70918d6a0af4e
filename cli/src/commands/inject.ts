// `weft inject`: adds the sidecar to Kubernetes workloads in manifests, from files or stdin,
// to stdout; what happened to each workload goes to stderr. Nothing is written on error.
import { readFileSync } from 'node:fs';
import type { InjectReport } from '@weft/control-plane/injector';
import { DEFAULT_INJECTOR_CONFIG } from '@weft/control-plane/injector-config';
import type { Command } from 'commander';
import { addInjectorFlags, injectorConfigFrom } from './injector-flags.ts';
import { UserError } from './shared.ts';

export function registerInject(program: Command): void {
  const command = program
    .command('inject')
    .description('add the Weft sidecar to Kubernetes workloads (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob)')
    .option('-f, --filename <file>', 'manifest file, YAML or JSON; "-" or none reads stdin (repeatable)', collect, [])
    .option('-q, --quiet', 'do not report each workload on stderr')
    .option('--trust-bundle <file>', "the mesh's trust bundle injected sidecars start with (`weft ca bundle`); default WEFT_TRUST_BUNDLE")
    .option('--trust-domain <domain>', 'the trust domain injected sidecars ask for identities in', DEFAULT_INJECTOR_CONFIG.trustDomain);
  addInjectorFlags(command, DEFAULT_INJECTOR_CONFIG).action(async (opts) => {
    const { formatConfigError, injectManifests, injectedTrustBundle } = await import('@weft/control-plane/injector');
    const bundleFile: string | undefined = opts.trustBundle ?? process.env['WEFT_TRUST_BUNDLE'];
    if (!bundleFile) {
      throw new UserError(
        "--trust-bundle: required: the mesh's trust bundle (`weft ca bundle > bundle.pem`, or ca.crt from deploy/kubernetes/generate-certs.sh)",
      );
    }
    if (!/^[a-z0-9._-]{1,255}$/.test(opts.trustDomain)) {
      throw new UserError(`--trust-domain: "${opts.trustDomain}" must be lower-case letters, digits, ".", "-" or "_"`);
    }
    const bundle = injectedTrustBundle(readFile(bundleFile), `--trust-bundle ${bundleFile}`);
    if (!bundle.ok) throw new UserError(bundle.error);
    const config = {
      ...injectorConfigFrom(opts, DEFAULT_INJECTOR_CONFIG),
      trustDomain: opts.trustDomain as string,
      trustBundlePem: bundle.pem,
    };
    const files: string[] = opts.filename.length > 0 ? opts.filename : ['-'];
    const outputs: string[] = [];
    const reports: InjectReport[][] = [];
    const errors: string[] = [];
    for (const file of files) {
      const text = file === '-' ? await readStdin() : readFile(file);
      const result = injectManifests(text, file === '-' ? 'stdin' : file, config);
      if (!result.ok) errors.push(...result.errors.map(formatConfigError));
      else {
        outputs.push(result.output);
        reports.push(result.reports);
      }
    }
    if (errors.length > 0) throw new UserError('nothing injected: fix these first', errors);
    process.stdout.write(joinDocuments(outputs));
    if (!opts.quiet) {
      reports.forEach((fileReports, i) => {
        for (const r of fileReports) process.stderr.write(`${files[i] === '-' ? '' : `${files[i]}: `}${r.resource}: ${describe(r)}\n`);
      });
    }
  });
}

function describe(report: InjectReport): string {
  const o = report.outcome;
  switch (o.kind) {
    case 'injected':
      return `${o.replaced ? 're-injected' : 'injected'} (service ${o.service})`;
    case 'unchanged':
      return 'already injected';
    case 'skipped':
      return `skipped: ${o.reason}`;
  }
}

/** Several files become one stream of documents. */
function joinDocuments(outputs: readonly string[]): string {
  return outputs
    .filter((o) => o.trim() !== '')
    .map((o, i) => (i === 0 || /^---/.test(o) ? o : `---\n${o}`))
    .map((o) => (o.endsWith('\n') ? o : `${o}\n`))
    .join('');
}

function readFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new UserError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
