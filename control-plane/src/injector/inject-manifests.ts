// `weft inject` on text: Kubernetes manifests in (YAML, several documents, or JSON), the same
// manifests out with the sidecar added to every workload. The YAML Document API replays each
// plan's JSON Patch on the parsed document, so comments, key order and quoting elsewhere stay;
// documents without a change are copied through byte for byte. All or nothing: any error and
// no output, with every error naming file, document, resource and field.
import type { Operation } from 'fast-json-patch';
import { type Document, isMap, isSeq, LineCounter, type Node, parseAllDocuments } from 'yaml';
import type { ConfigError } from '../model/config-error.ts';
import type { InjectorConfig } from './injector-config.ts';
import { type FieldPath, formatFieldPath, fromPointer, toPointer } from './paths.ts';
import { applyPlan, type InjectionOutcome, planInjection } from './plan-injection.ts';
import { locateTemplates } from './workloads.ts';

export interface InjectReport {
  /** 1-based document in the input. */
  readonly document: number;
  /** "Deployment shop/web". */
  readonly resource: string;
  readonly outcome: InjectionOutcome;
}

export type InjectManifestsResult =
  | { ok: true; output: string; reports: InjectReport[]; changed: boolean }
  | { ok: false; errors: ConfigError[] };

export function injectManifests(text: string, file: string, config: InjectorConfig): InjectManifestsResult {
  return /^\s*[{[]/.test(text) ? injectJson(text, file, config) : injectYaml(text, file, config);
}

interface DocumentEdit {
  readonly reports: InjectReport[];
  readonly errors: ConfigError[];
  /** Each pod template's patch, with where the template sits in the document. */
  readonly patches: { readonly at: FieldPath; readonly patch: readonly Operation[] }[];
}

function planDocument(value: unknown, file: string, document: number, config: InjectorConfig, line: (at: FieldPath) => number | undefined) {
  const edit: DocumentEdit = { reports: [], errors: [], patches: [] };
  const located = locateTemplates(value);
  if (!located.ok) {
    for (const e of located.errors) edit.errors.push({ file, document, path: formatFieldPath(e.at), message: e.message, line: line(e.at) });
    return edit;
  }
  for (const site of located.sites) {
    const planned = planInjection(site.template, config, { selection: 'cli', workloadName: site.name });
    if (!planned.ok) {
      for (const e of planned.errors) {
        const at = [...site.at, ...e.at];
        edit.errors.push({ file, document, resource: site.resource, path: formatFieldPath(at), message: e.message, line: line(at) });
      }
      continue;
    }
    edit.reports.push({ document, resource: site.resource, outcome: planned.plan.outcome });
    if (planned.plan.patch.length > 0) edit.patches.push({ at: site.at, patch: planned.plan.patch });
  }
  return edit;
}

function injectYaml(text: string, file: string, config: InjectorConfig): InjectManifestsResult {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  const documents = Array.isArray(docs) ? docs : [docs];
  const errors: ConfigError[] = [];
  const reports: InjectReport[] = [];
  const chunks: string[] = [];
  let start = 0;
  documents.forEach((doc, index) => {
    const document = index + 1;
    const end = doc.range[2];
    const original = text.slice(start, end);
    start = end;
    for (const error of doc.errors) {
      errors.push({
        file,
        document,
        path: '',
        message: `YAML: ${error.message.split('\n')[0]}`,
        line: lineCounter.linePos(error.pos[0]).line,
      });
    }
    if (doc.errors.length > 0) return;
    const edit = planDocument(doc.toJS(), file, document, config, (at) => lineAt(doc, lineCounter, at));
    errors.push(...edit.errors);
    reports.push(...edit.reports);
    if (edit.patches.length === 0) {
      chunks.push(original);
      return;
    }
    for (const { at, patch } of edit.patches) for (const op of patch) applyToDocument(doc, at, op);
    chunks.push(doc.toString({ lineWidth: 0, flowCollectionPadding: false, indentSeq: indentsSequences(original) }));
  });
  if (errors.length > 0) return { ok: false, errors };
  chunks.push(text.slice(start));
  const output = chunks.join('');
  return { ok: true, output, reports, changed: output !== text };
}

function injectJson(text: string, file: string, config: InjectorConfig): InjectManifestsResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, errors: [{ file, document: 1, path: '', message: `JSON: ${(error as Error).message}` }] };
  }
  const edit = planDocument(value, file, 1, config, () => undefined);
  if (edit.errors.length > 0) return { ok: false, errors: edit.errors };
  if (edit.patches.length === 0) return { ok: true, output: text, reports: edit.reports, changed: false };
  for (const { at, patch } of edit.patches) {
    value = applyPlan(value, {
      outcome: { kind: 'skipped', reason: '' },
      patch: patch.map((op) => ({ ...op, path: toPointer(at) + op.path })),
    });
  }
  return { ok: true, output: `${JSON.stringify(value, null, 2)}\n`, reports: edit.reports, changed: true };
}

/** Replays one JSON Patch operation on the YAML document (only the ops plans produce). */
function applyToDocument(doc: Document, at: FieldPath, op: Operation): void {
  const path = [...at, ...fromPointer(op.path)];
  const key = path.at(-1);
  const parentPath = path.slice(0, -1);
  const parent = parentPath.length === 0 ? doc.contents : doc.getIn(parentPath, true);
  if (key === undefined) throw new Error(`cannot apply ${op.op} at the document root`);
  if (isSeq(parent)) {
    const index = key === '-' ? parent.items.length : Number(key);
    if (op.op === 'add') parent.items.splice(index, 0, doc.createNode(op.value));
    else if (op.op === 'remove') parent.items.splice(index, 1);
    else if (op.op === 'replace') parent.items[index] = doc.createNode(op.value);
    else throw new Error(`unsupported patch operation ${op.op}`);
  } else if (isMap(parent)) {
    if (op.op === 'add' || op.op === 'replace') parent.set(String(key), doc.createNode(op.value));
    else if (op.op === 'remove') parent.delete(String(key));
    else throw new Error(`unsupported patch operation ${op.op}`);
  } else {
    throw new Error(`no mapping or sequence at ${formatFieldPath(parentPath)}`);
  }
}

/** kubectl writes "key:\n- item" (sequences not indented); keep whichever style the input uses. */
function indentsSequences(source: string): boolean {
  const match = /^( *)[^\s#-][^\n]*:[ \t]*\n(?:[ \t]*(?:#[^\n]*)?\n)*( *)- /m.exec(source);
  return match ? (match[2]?.length ?? 0) > (match[1]?.length ?? 0) : true;
}

/** The line of the deepest node of `at` that exists in the document. */
function lineAt(doc: Document, lineCounter: LineCounter, at: FieldPath): number | undefined {
  for (let depth = at.length; depth >= 0; depth--) {
    const node = (depth === 0 ? doc.contents : doc.getIn(at.slice(0, depth), true)) as Node | null | undefined;
    const offset = node?.range?.[0];
    if (offset !== undefined) return lineCounter.linePos(offset).line;
  }
  return undefined;
}
