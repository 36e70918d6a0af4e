// Where the control plane's CA comes from, and the trust bundle it distributes:
//   - by default a self-signed RSA-2048 root it creates once in <data-dir>/ca/ (key mode
//     0600, never logged), valid for ten years;
//   - or an operator's root or intermediate (--ca-cert, --ca-key, --ca-chain), with an
//     optional --trust-bundle listing every root workloads should trust.
// Operator files are watched: a valid change is swapped in live (that is how a root is
// rotated), an invalid one is refused whole and the current CA keeps issuing.
// Every change is also written to <data-dir>/trust-bundle.pem, for `weft up` and scripts.
import { existsSync, type FSWatcher, readFileSync, statSync, watch } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { CertificateAuthority, createRootCa, TrustBundle } from '@weft/certs';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../store/persisted-file.ts';

export interface CaFiles {
  readonly caCert?: string | undefined;
  readonly caKey?: string | undefined;
  readonly caChain?: string | undefined;
  readonly trustBundle?: string | undefined;
}

export interface CaOptions extends CaFiles {
  readonly dataDir: string;
  readonly trustDomain: string;
}

export interface CaState {
  readonly ca: CertificateAuthority;
  readonly bundle: TrustBundle;
  /** 'data-dir' for the self-managed root, 'files' for operator files. */
  readonly source: 'data-dir' | 'files';
}

export type CaStateResult = { ok: true; state: CaState } | { ok: false; errors: string[] };

const ROOT_VALIDITY_MS = 10 * 365 * 24 * 3600 * 1000;
export const BUNDLE_FILE = 'trust-bundle.pem';

/** The self-managed root's files, created on first use. Exported for `weft ca init`. */
export function selfManagedRoot(dataDir: string, trustDomain: string): { certPem: string; keyPem: string; created: boolean } {
  const certPath = join(dataDir, 'ca', 'root.crt');
  const keyPath = join(dataDir, 'ca', 'root.key');
  if (existsSync(certPath) && existsSync(keyPath)) {
    return { certPem: readFileSync(certPath, 'utf8'), keyPem: readFileSync(keyPath, 'utf8'), created: false };
  }
  const root = createRootCa({ trustDomain, validityMs: ROOT_VALIDITY_MS });
  writeFileAtomic(keyPath, root.keyPem, 0o600);
  writeFileAtomic(certPath, root.certPem, 0o644);
  return { ...root, created: true };
}

/** `weft ca init`: creates the self-managed root (if missing) and writes the trust bundle
 * file, so sidecars can be provisioned before the control plane first starts. */
export function initCa(dataDir: string, trustDomain: string): { bundlePath: string; created: boolean; bundlePem: string } {
  const root = selfManagedRoot(dataDir, trustDomain);
  const bundlePath = join(dataDir, BUNDLE_FILE);
  const bundlePem = `${root.certPem.trim()}\n`;
  writeFileAtomic(bundlePath, bundlePem, 0o644);
  return { bundlePath, created: root.created, bundlePem };
}

/** Loads and checks the CA the options describe. Every problem is named by its flag. */
export function loadCaState(options: CaOptions): CaStateResult {
  const given = [options.caCert, options.caKey].filter(Boolean).length;
  if (given === 1) return { ok: false, errors: ['--ca-cert and --ca-key go together; give both or neither'] };
  if (given === 0 && options.caChain) return { ok: false, errors: ['--ca-chain needs --ca-cert and --ca-key'] };

  let certPem: string;
  let keyPem: string;
  let chainPem = '';
  const errors: string[] = [];
  const read = (flag: string, path: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      errors.push(`${flag} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      return '';
    }
  };
  if (options.caCert && options.caKey) {
    certPem = read('--ca-cert', options.caCert);
    keyPem = read('--ca-key', options.caKey);
    if (options.caChain) chainPem = read('--ca-chain', options.caChain);
  } else {
    ({ certPem, keyPem } = selfManagedRoot(options.dataDir, options.trustDomain));
  }
  const bundleText = options.trustBundle ? read('--trust-bundle', options.trustBundle) : undefined;
  if (errors.length > 0) return { ok: false, errors };

  const loaded = CertificateAuthority.load({ certPem, keyPem, chainPem, trustDomain: options.trustDomain });
  if (!loaded.ok) {
    const flagged = loaded.errors.map((e) =>
      e
        .replace(/^CA certificate:/, '--ca-cert:')
        .replace(/^CA key:/, '--ca-key:')
        .replace(/^CA chain:/, '--ca-chain:'),
    );
    return { ok: false, errors: options.caCert ? flagged : flagged.map((e) => `${join(options.dataDir, 'ca')}: ${e}`) };
  }
  let bundle: TrustBundle;
  if (bundleText !== undefined) {
    const parsed = TrustBundle.fromPem(bundleText, `--trust-bundle ${options.trustBundle}`);
    if (!parsed.ok) return { ok: false, errors: [parsed.error] };
    bundle = parsed.bundle;
    if (!bundle.anchorOf(loaded.ca.root)) {
      return {
        ok: false,
        errors: [
          `--trust-bundle ${options.trustBundle}: does not contain the root of the signing CA ("${loaded.ca.root.subject.replace(/\n/g, ', ')}"); workloads could not verify the certificates it issues`,
        ],
      };
    }
  } else {
    const parsed = TrustBundle.fromDer([loaded.ca.root.raw], 'CA root');
    if (!parsed.ok) return { ok: false, errors: [parsed.error] };
    bundle = parsed.bundle;
  }
  return { ok: true, state: { ca: loaded.ca, bundle, source: options.caCert ? 'files' : 'data-dir' } };
}

export class CaSource {
  #state: CaState;
  readonly #options: CaOptions;
  readonly #log: Logger;
  readonly #listeners = new Set<(state: CaState) => void>();
  readonly #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(state: CaState, options: CaOptions, log: Logger) {
    this.#state = state;
    this.#options = options;
    this.#log = log.child({ component: 'ca' });
    this.#publish();
    this.#warnIfKeyReadable();
    if (state.source === 'files') this.#watch();
  }

  get state(): CaState {
    return this.#state;
  }

  get trustDomain(): string {
    return this.#options.trustDomain;
  }

  onChange(listener: (state: CaState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Re-reads the operator files now (the watcher calls this after a quiet period). */
  reload(): void {
    const result = loadCaState(this.#options);
    if (!result.ok) {
      for (const error of result.errors) this.#log.error({ error }, 'CA files rejected; keeping the current CA');
      return;
    }
    const next = result.state;
    const same = next.ca.certificate.fingerprint256 === this.#state.ca.certificate.fingerprint256 && next.bundle.equals(this.#state.bundle);
    if (same) return;
    this.#state = next;
    this.#publish();
    for (const listener of this.#listeners) listener(next);
  }

  close(): void {
    clearTimeout(this.#timer);
    for (const watcher of this.#watchers.splice(0)) watcher.close();
  }

  #publish(): void {
    const { ca, bundle, source } = this.#state;
    writeFileAtomic(join(this.#options.dataDir, BUNDLE_FILE), bundle.pem, 0o644);
    this.#log.info(
      {
        trustDomain: this.#options.trustDomain,
        source,
        signer: ca.certificate.subject?.replace(/\n/g, ', '),
        signerExpires: ca.certificate.validTo,
        roots: bundle.describe().map((r) => `${r.subject} (${r.fingerprint.slice(0, 23)})`),
      },
      'CA ready',
    );
  }

  #warnIfKeyReadable(): void {
    const key = this.#options.caKey ?? join(this.#options.dataDir, 'ca', 'root.key');
    try {
      if ((statSync(key).mode & 0o077) !== 0) this.#log.warn({ file: key }, 'CA key file is readable by group or others; chmod 600 it');
    } catch {
      // Missing files were reported when loading.
    }
  }

  #watch(): void {
    const files = [this.#options.caCert, this.#options.caKey, this.#options.caChain, this.#options.trustBundle]
      .filter((f): f is string => Boolean(f))
      .map((f) => resolve(f));
    const names = new Set(files.map((f) => f.slice(dirname(f).length + 1)));
    for (const dir of new Set(files.map((f) => dirname(f)))) {
      this.#watchers.push(
        watch(dir, { persistent: false }, (_event, name) => {
          if (name !== null && !names.has(name)) return;
          clearTimeout(this.#timer);
          // Operators replace several files; wait until they are done.
          this.#timer = setTimeout(() => this.reload(), 200);
        }),
      );
    }
  }
}
