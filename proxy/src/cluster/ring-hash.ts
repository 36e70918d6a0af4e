// Consistent hashing on a ring (Ketama): each host owns a fixed number of points on a
// 32-bit ring; a key goes to the host owning the first point at or after its hash. Adding
// or removing a host adds or removes only its own points, so a key stays on its host until
// that host goes away. (Envoy scales points per host to a minimum ring size, which moves
// keys between the survivors when a host leaves; a fixed count does not.) Walking on past
// unusable hosts (ejected, or already tried by this request) keeps the same property.
//
// The hash is FNV-1a with murmur3's 32-bit finaliser: cheap, no allocation per request,
// and well spread on short, similar keys such as "10.0.0.7:8080#12".

/** Points per host: with 256, each of 3 hosts gets its share ±10 % of keys. */
export const POINTS_PER_HOST = 256;

export function hash32(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class HashRing {
  /** Point hashes, ascending. */
  readonly #points: Uint32Array;
  /** Host index (into the array the ring was built from) per point. */
  readonly #owners: Uint32Array;

  /** `names` identify the hosts (their addresses); equal names give equal rings. */
  constructor(names: readonly string[], perHost = POINTS_PER_HOST) {
    const entries: [number, number][] = [];
    names.forEach((name, owner) => {
      for (let i = 0; i < perHost; i++) entries.push([hash32(`${name}#${i}`), owner]);
    });
    // Ties (vanishingly rare) are broken by owner so every sidecar builds the same ring.
    entries.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    this.#points = Uint32Array.from(entries, (e) => e[0]);
    this.#owners = Uint32Array.from(entries, (e) => e[1]);
  }

  get size(): number {
    return this.#points.length;
  }

  /** The first host (index) at or after `hash` for which `usable` holds, walking the ring once; -1 if none. */
  find(hash: number, usable: (owner: number) => boolean): number {
    const n = this.#points.length;
    if (n === 0) return -1;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#points[mid] as number) < hash) lo = mid + 1;
      else hi = mid;
    }
    for (let step = 0; step < n; step++) {
      const owner = this.#owners[(lo + step) % n] as number;
      if (usable(owner)) return owner;
    }
    return -1;
  }
}
