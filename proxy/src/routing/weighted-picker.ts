// Picks among weighted choices. Instead of Math.random() per request it walks a Weyl
// sequence (x += 1/φ mod 1) from a random start: each pick is as unpredictable to the
// caller, but the shares converge much faster (a 90/10 split stays within a few requests
// of exact after any number of requests), so canaries get what the route says.
export type WeightedPicker<T> = () => T;

const INVERSE_GOLDEN_RATIO = 0.6180339887498949;

export function weightedPicker<T>(choices: readonly { value: T; weight: number }[]): WeightedPicker<T> {
  const positive = choices.filter((c) => c.weight > 0);
  if (positive.length === 0) {
    throw new Error('weightedPicker needs at least one choice with a positive weight');
  }
  const only = positive[0] as { value: T };
  if (positive.length === 1) return () => only.value;
  const total = positive.reduce((sum, c) => sum + c.weight, 0);
  const bounds: number[] = [];
  let running = 0;
  for (const c of positive) {
    running += c.weight / total;
    bounds.push(running);
  }
  const values = positive.map((c) => c.value);
  let x = Math.random();
  return () => {
    x += INVERSE_GOLDEN_RATIO;
    if (x >= 1) x -= 1;
    for (let i = 0; i < bounds.length - 1; i++) if (x < (bounds[i] as number)) return values[i] as T;
    return values[values.length - 1] as T;
  };
}
