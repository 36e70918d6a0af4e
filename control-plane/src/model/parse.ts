// YAML text → validated resources. A file is all or nothing: any error rejects every
// document in it, and each error names file, document, resource and field (with a line).
import { type Document, isMap, LineCounter, parseAllDocuments } from 'yaml';
import { type ConfigError, formatPath } from './config-error.ts';
import type { MeshResource } from './resources.ts';
import { KINDS, schemaFor, toResource } from './schema.ts';

export interface ParsedDocument {
  readonly resource: MeshResource;
  /** 1-based position in the file. */
  readonly document: number;
}

export type ParseResult = { ok: true; documents: ParsedDocument[] } | { ok: false; errors: ConfigError[] };

export function parseMeshYaml(text: string, file: string): ParseResult {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  const errors: ConfigError[] = [];
  const parsedDocuments: ParsedDocument[] = [];
  const docs = Array.isArray(documents) ? documents : [documents];

  docs.forEach((doc, index) => {
    const document = index + 1;
    for (const error of doc.errors) {
      errors.push({ file, document, path: '', message: `YAML: ${error.message.split('\n')[0]}`, line: lineOf(lineCounter, error.pos[0]) });
    }
    if (doc.errors.length > 0) return;
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return; // an empty document between separators
    if (!isMap(doc.contents)) {
      errors.push({ file, document, path: '', message: 'a document must be a mapping with apiVersion, kind, metadata and spec' });
      return;
    }
    const raw = value as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
    const resource = describe(raw);
    const schema = schemaFor(raw.kind);
    if (!schema) {
      errors.push({
        file,
        document,
        ...(resource ? { resource } : {}),
        path: 'kind',
        message: `unknown kind ${JSON.stringify(raw.kind)}; expected one of ${KINDS.join(', ')}`,
        line: lineAt(doc, lineCounter, ['kind']),
      });
      return;
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        // An unknown field is reported at the field itself, so the line points at the typo.
        const unknown = issue.code === 'unrecognized_keys' ? issue.keys : [];
        for (const key of unknown.length > 0 ? unknown : [undefined]) {
          const path = key === undefined ? issue.path : [...issue.path, key];
          errors.push({
            file,
            document,
            ...(resource ? { resource } : {}),
            path: formatPath(path),
            message: key === undefined ? issue.message : 'unknown field',
            line: lineAt(doc, lineCounter, path),
          });
        }
      }
      errors.sort((a, b) => (a.document === b.document ? (a.line ?? 0) - (b.line ?? 0) : 0));
      return;
    }
    parsedDocuments.push({ resource: toResource(parsed.data), document });
  });

  return errors.length > 0 ? { ok: false, errors } : { ok: true, documents: parsedDocuments };
}

function describe(raw: { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } }): string | undefined {
  const name = raw.metadata?.name;
  if (typeof raw.kind !== 'string' || typeof name !== 'string') return undefined;
  const namespace = typeof raw.metadata?.namespace === 'string' ? raw.metadata.namespace : 'default';
  return `${raw.kind} ${namespace}/${name}`;
}

/** The line of the deepest node along the path that exists in the document. */
function lineAt(doc: Document, counter: LineCounter, path: readonly PropertyKey[]): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth) as unknown[], true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) return lineOf(counter, node.range[0]);
  }
  return undefined;
}

function lineOf(counter: LineCounter, offset: number | undefined): number | undefined {
  return offset === undefined ? undefined : counter.linePos(offset).line;
}
