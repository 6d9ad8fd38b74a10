/**
 * The objects one walk of a message has met, to find an object reached twice (a shared reference
 * or a cycle, which only CODEC_V8 keeps). Small messages, the common case, hold a few objects: a
 * linear search of a reused array beats a Set there; past SMALL_GRAPH objects they move into a Set.
 * One instance per walker; clear() after every walk, which also lets the objects go.
 */
const SMALL_GRAPH = 16;
const EMPTY = {};

export class Visits {
  private readonly list: object[] = [];
  private count = 0;
  private readonly set = new Set<object>();

  /** Records `o` as met; true when it was met before in this walk. */
  seen(o: object): boolean {
    const count = this.count;
    if (count < SMALL_GRAPH) {
      const list = this.list;
      for (let i = 0; i < count; i++) if (list[i] === o) return true;
      list[count] = o;
      this.count = count + 1;
      return false;
    }
    if (count === SMALL_GRAPH) for (let i = 0; i < SMALL_GRAPH; i++) this.set.add(this.list[i]!);
    this.count = count + 1;
    if (this.set.has(o)) return true;
    this.set.add(o);
    return false;
  }

  /** Forgets the walk's objects. */
  clear(): void {
    const list = this.list;
    for (let i = 0; i < this.count && i < SMALL_GRAPH; i++) list[i] = EMPTY;
    if (this.count > SMALL_GRAPH) this.set.clear();
    this.count = 0;
  }
}
