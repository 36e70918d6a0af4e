// Talks to the control plane's admin API for apply, delete and status.
export const DEFAULT_SERVER = process.env['WEFT_SERVER'] ?? 'http://127.0.0.1:15000';

export class AdminError extends Error {
  readonly details: readonly string[];
  constructor(message: string, details: readonly string[] = []) {
    super(message);
    this.details = details;
  }
}

export async function adminRequest<T>(
  server: string,
  path: string,
  init: { method?: string; body?: string; contentType?: string } = {},
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(new URL(path, server), {
      method: init.method ?? 'GET',
      ...(init.body !== undefined ? { body: init.body, headers: { 'content-type': init.contentType ?? 'application/yaml' } } : {}),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new AdminError(`cannot reach the control plane at ${server} (${cause}); is it running? (--server or WEFT_SERVER)`);
  }
  const body = (await response.json().catch(() => ({}))) as T & { error?: string; errors?: string[] };
  if (!response.ok) {
    throw new AdminError(body.error ?? `control plane answered ${response.status}`, body.errors ?? []);
  }
  return body;
}
