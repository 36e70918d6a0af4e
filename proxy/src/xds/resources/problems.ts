// Collects every problem in a discovery response (not just the first), each with the
// resource and field path, so a NACK tells the operator everything at once.
export class Problems {
  readonly #list: string[] = [];

  add(resource: string, path: string, message: string): void {
    this.#list.push(`${resource}: ${path ? `${path}: ` : ''}${message}`);
  }

  get empty(): boolean {
    return this.#list.length === 0;
  }

  /** One line for error_detail; long lists are cut with a count. */
  summary(max = 10): string {
    const shown = this.#list.slice(0, max).join('; ');
    return this.#list.length > max ? `${shown}; and ${this.#list.length - max} more` : shown;
  }
}
