// @weft/certs: X.509 and workload identity code shared by the control plane and the proxy.
export { formatSpiffeId, parseSpiffeId, type SpiffeId, type SpiffeParse, type WorkloadIdentity } from './spiffe-id.ts';
