// TrustBundle (proto) → the roots to trust and the CA certificate signing now.
import { X509Certificate } from 'node:crypto';
import { TrustBundle } from '@weft/certs';
import type { TrustBundle as TrustBundleProto } from '@weft/proto';
import type { Problems } from './problems.ts';

export interface TrustUpdate {
  readonly bundle: TrustBundle;
  /** New certificates come from this CA; one issued by another is renewed soon. */
  readonly signer: X509Certificate | undefined;
}

export function toTrustUpdate(message: TrustBundleProto, trustDomain: string, problems: Problems): TrustUpdate | undefined {
  const where = `TrustBundle "${message.trustDomain}"`;
  if (message.trustDomain !== trustDomain) {
    problems.add(where, 'trust_domain', `this sidecar belongs to trust domain ${trustDomain}`);
    return undefined;
  }
  const parsed = TrustBundle.fromDer(message.roots, `${where}: roots`);
  if (!parsed.ok) {
    problems.add(where, 'roots', parsed.error);
    return undefined;
  }
  let signer: X509Certificate | undefined;
  if (message.signer.length > 0) {
    try {
      signer = new X509Certificate(message.signer);
    } catch (error) {
      problems.add(where, 'signer', `cannot parse: ${(error as Error).message}`);
    }
  }
  return { bundle: parsed.bundle, signer };
}
