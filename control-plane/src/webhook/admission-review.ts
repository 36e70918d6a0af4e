// The AdmissionReview v1 envelope (admission.k8s.io/v1): the request the API server sends,
// checked at this edge, and the response it expects back. Only Pod CREATE is ours to mutate.
import { z } from 'zod';

const groupVersionKind = z.looseObject({ group: z.string(), version: z.string(), kind: z.string() });

const admissionReview = z.looseObject({
  apiVersion: z.literal('admission.k8s.io/v1'),
  kind: z.literal('AdmissionReview'),
  request: z.looseObject({
    uid: z.string().min(1),
    kind: groupVersionKind,
    namespace: z.string().optional(),
    name: z.string().optional(),
    operation: z.string(),
    object: z.unknown().optional(),
  }),
});

export type AdmissionRequest = z.output<typeof admissionReview>['request'];

export type ReviewResult = { ok: true; request: AdmissionRequest } | { ok: false; message: string };

export function parseAdmissionReview(body: unknown): ReviewResult {
  const parsed = admissionReview.safeParse(body);
  if (parsed.success) return { ok: true, request: parsed.data.request };
  const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  return { ok: false, message: `not an AdmissionReview v1: ${issues.join('; ')}` };
}

export interface AdmissionResponse {
  readonly apiVersion: 'admission.k8s.io/v1';
  readonly kind: 'AdmissionReview';
  readonly response: {
    readonly uid: string;
    readonly allowed: boolean;
    readonly patchType?: 'JSONPatch';
    /** base64 of the JSON Patch document. */
    readonly patch?: string;
    readonly status?: { readonly code: number; readonly message: string };
  };
}

export function allow(uid: string, patch?: readonly unknown[]): AdmissionResponse {
  const response =
    patch && patch.length > 0
      ? { uid, allowed: true, patchType: 'JSONPatch' as const, patch: Buffer.from(JSON.stringify(patch)).toString('base64') }
      : { uid, allowed: true };
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

/** Refuses the pod: the API server shows `message` to whoever created it. */
export function deny(uid: string, message: string): AdmissionResponse {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: false, status: { code: 400, message } } };
}
