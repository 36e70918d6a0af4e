// A problem at one field of a pod, and the two ways of naming a field: as users read it in
// errors (spec.containers[0].ports, metadata.annotations["weft.io/app-port"]) and as an
// RFC 6901 JSON pointer (/spec/containers/0/ports), the form patches use.

export type FieldPath = readonly (string | number)[];

export interface FieldError {
  /** Where, from the root of the object being checked; empty for the whole object. */
  readonly at: FieldPath;
  readonly message: string;
}

/** ["metadata", "annotations", "weft.io/x"] → metadata.annotations["weft.io/x"]. */
export function formatFieldPath(at: FieldPath): string {
  let out = '';
  for (const part of at) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

/** Pointer segments → "/a/b~1c/0" (RFC 6901 escaping). */
export function toPointer(segments: FieldPath): string {
  return segments.map((s) => `/${String(s).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

/** "/a/b~1c/0" → ["a", "b/c", "0"]. */
export function fromPointer(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}
