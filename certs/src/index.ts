// @weft/certs: X.509 and workload identity code shared by the control plane and the proxy.
// node-forge is used only inside this package.
export {
  type CaLoad,
  CertificateAuthority,
  createRootCa,
  extensionsOf,
  type IssuedCertificate,
  type IssueRequest,
  isSelfSigned,
  keyUsageOf,
} from './certificate-authority.ts';
export { type CertificateInfo, Credentials, type CredentialsChange } from './credentials.ts';
export { type CsrParse, createCsr, createCsrWith, generateWorkloadKey, type ParsedCsr, parseCsr } from './csr.ts';
export { splitSigned } from './der.ts';
export { type CertificateProviderLike, certificateProvider } from './grpc-providers.ts';
export { hashSecret, type JoinToken, newJoinToken, parseJoinToken, secretMatches, type TokenParse } from './join-token.ts';
export { certificatesFromPem, pemBlocks, toPem } from './pem.ts';
export {
  controlPlaneSpiffeId,
  formatSpiffeId,
  parseSpiffeId,
  type SpiffeId,
  type SpiffeParse,
  trustDomainOf,
  type WorkloadIdentity,
} from './spiffe-id.ts';
export { type BundleParse, oneLine, TrustBundle } from './trust-bundle.ts';
export { checkSpiffeId, spiffeIdOfSan, type Verified, type VerifyError, verifyChain } from './verify.ts';
export { type PublicKeyInfo, publicKeyInfo, type Signer, signerFor } from './x509-builder.ts';
