/** Why the bundle under `root` (the repository, a file: URL ending in /) is not fresh, or undefined when it is. */
export function staleBundle(root: URL): string | undefined;
