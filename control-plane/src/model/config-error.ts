// A problem with user configuration, precise enough to fix without guessing:
// which file, which document, which resource, which field.
export interface ConfigError {
  readonly file: string;
  /** 1-based position of the document in its file; 0 when the problem spans documents. */
  readonly document: number;
  /** "Kind namespace/name" when known. */
  readonly resource?: string | undefined;
  /** Field path like spec.rules[0].backends[1].weight; empty for the whole document. */
  readonly path: string;
  readonly message: string;
  readonly line?: number | undefined;
}

export function formatConfigError(e: ConfigError): string {
  const where = [e.file + (e.line ? `:${e.line}` : ''), e.document ? `document ${e.document}` : '', e.resource ?? '']
    .filter(Boolean)
    .join(', ');
  return `${where}: ${e.path ? `${e.path}: ` : ''}${e.message}`;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}
