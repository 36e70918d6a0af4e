// The DER that x509-builder writes by hand (so a sidecar never loads node-forge) must be
// byte for byte what forge writes.
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import { algorithmIdentifier, oidDer } from './x509-builder.ts';

const { asn1 } = forge;
const forgeDer = (node: forge.asn1.Asn1) => Buffer.from(asn1.toDer(node).getBytes(), 'binary');
const forgeOid = (oid: string) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(oid).getBytes());

describe('hand-written DER', () => {
  it('encodes OIDs as forge does, multi-byte arcs included', () => {
    for (const oid of ['1.2.840.10045.2.1', '1.2.840.10045.3.1.7', '2.5.29.17', '1.2.840.113549.1.1.11', '1.3.6.1.5.5.7.3.1', '2.999.1']) {
      expect(oidDer(oid).toString('hex'), oid).toBe(forgeDer(forgeOid(oid)).toString('hex'));
    }
  });

  it('encodes AlgorithmIdentifiers with and without NULL parameters as forge does', () => {
    const withNull = forgeDer(
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
        forgeOid('1.2.840.113549.1.1.11'),
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''),
      ]),
    );
    expect(algorithmIdentifier('1.2.840.113549.1.1.11', true).toString('hex')).toBe(withNull.toString('hex'));
    const without = forgeDer(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [forgeOid('1.2.840.10045.4.3.2')]));
    expect(algorithmIdentifier('1.2.840.10045.4.3.2', false).toString('hex')).toBe(without.toString('hex'));
  });
});
