/** What staleBundle says when there is no bundle at all (a checkout before its first build). */
export const NO_BUNDLE: string;
/** Why the bundle under `root` (the repository, a file: URL ending in /) is not fresh, or undefined when it is. */
export function staleBundle(root: URL): string | undefined;
