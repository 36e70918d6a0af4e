// The end-to-end harness: real processes, real sockets, everything cleaned up.
export { type AppHandler, type ReceivedRequest, startApp, type TestApp } from './apps.ts';
export { onCleanup, tempDir } from './cleanup.ts';
export { ECHO_SERVICE, type EchoClientApi, echoClient, type GrpcApp, type GrpcCallSeen, grpc, startGrpcApp, unary } from './grpc-app.ts';
export { appOf, type Reply, send } from './http-client.ts';
export {
  type CertifyOutcome,
  certify,
  discover,
  issueIdentity,
  openssl,
  opensslRoot,
  type SidecarIdentity,
  sidecarIdentity,
} from './identity.ts';
export { type FakeKubernetes, K8S_ISSUER, startFakeKubernetes, startInjectedProxy } from './kubernetes.ts';
export { destinationPolicy, route, service, yamlDocs } from './mesh-yaml.ts';
export {
  type ControlPlaneHandle,
  createToken,
  type SidecarHandle,
  startControlPlane,
  startSidecar,
  waitForMeshSync,
  weft,
} from './processes.ts';
export { type Arrival, type Mode, type ScriptedApp, startScriptedApp } from './scripted-app.ts';
export {
  type EdgeStat,
  FAST_TELEMETRY,
  inboundRequests,
  meshEdges,
  meshStat,
  promValue,
  type ServiceStat,
  scrape,
} from './telemetry.ts';
export { waitUntil } from './wait.ts';
