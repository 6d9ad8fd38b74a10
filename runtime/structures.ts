/**
 * msgpackr record structures shared by the main thread and its workers, in one SharedArrayBuffer.
 *
 * With records, an object is sent as a structure id plus its values; the structure (the key list)
 * is written once. The main thread is the only writer: its encoder adds a structure while it
 * packs the message that first uses it, before that frame is published. Workers read the
 * registry when a frame names a structure they have not seen, so a restarted worker, or one a
 * partition just moved to, learns every structure from here, never from earlier frames.
 *
 * Layout: word 0 the bytes used, then the entries from ENTRIES_AT, each a plain msgpack array of
 * key strings. Append-only: bytes below the published length never change, so a reader copies
 * them without a lock.
 *
 * Ordering: save() writes an entry's bytes, then Atomics.stores the length; the frame that uses
 * it is published later with an Atomics.store on the ring. A worker that has seen the frame (an
 * Atomics.load of the ring's write counter) therefore sees the length and the bytes under it.
 * A reader may see more than it needs (a newer structure): harmless, it takes all.
 *
 * Capacity: once the region or the MAX_SHARED_STRUCTURES ids are full, new shapes are written as
 * plain msgpack maps (the keys in every frame): still correct, a little larger (see codec.ts for
 * why not msgpackr's per-message records). shouldShare() refuses before a structure could
 * overflow, so save() always fits.
 */
import { Packr, Unpackr } from 'msgpackr';

const USED = 0;
const ENTRIES_AT = 8;
/** msgpackr's record id of the registry's first structure: the one at index i has id FIRST_RECORD_ID + i. */
export const FIRST_RECORD_ID = 0x40;
/** Shapes that get a shared id (msgpackr allows 8160; ids past 32 take 2 bytes per record). */
export const MAX_SHARED_STRUCTURES = 256;
/** Room for their key lists: 256 shapes of 15 keys of 20 characters (by the bound below) fit. */
export const STRUCTURES_BYTES = 256 * 1024;

/** What msgpackr hands saveStructures: the structures so far, each a key list. */
type Structures = string[][];

/** An upper bound of a key list's msgpack size: a str32 header and 3 UTF-8 bytes per UTF-16 unit. */
function boundBytes(keys: readonly string[]): number {
  let bytes = 5;
  for (const key of keys) bytes += 5 + 3 * key.length;
  return bytes;
}

export class SharedStructures {
  readonly sab: SharedArrayBuffer;
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;
  // Entries are plain msgpack (no records): they describe records, they cannot use them.
  private readonly entries = new Packr({ useRecords: false });
  private readonly entryReader = new Unpackr({ useRecords: false });
  /** Writer: the key list of each structure saved so far (index i: record id 0x40 + i). */
  private readonly savedKeys: string[][] = [];
  /** Writer: bytes promised to shouldShare() since the last save. */
  private promised = 0;
  /** Reader: the structures decoded so far, and the bytes they came from. */
  private readonly known: Structures = [];
  private readBytes = 0;

  constructor(sab: SharedArrayBuffer = new SharedArrayBuffer(ENTRIES_AT + STRUCTURES_BYTES)) {
    this.sab = sab;
    this.words = new Int32Array(sab, 0, 1);
    this.bytes = new Uint8Array(sab, ENTRIES_AT);
  }

  /** Writer (msgpackr's shouldShareStructure): whether a new structure may join the registry. */
  shouldShare(keys: readonly string[]): boolean {
    const bound = boundBytes(keys);
    if (Atomics.load(this.words, USED) + this.promised + bound > this.bytes.length) return false;
    this.promised += bound;
    return true;
  }

  /** Writer: a pack failed, so the shapes it was promised room for were never saved. */
  dropPromises(): void {
    this.promised = 0;
  }

  /** Writer (msgpackr's saveStructures): appends the structures added since the last save. */
  save(structures: Structures): boolean {
    let used = Atomics.load(this.words, USED);
    const added: string[][] = [];
    for (let i = this.savedKeys.length; i < structures.length; i++) {
      const keys = structures[i]!.slice();
      const entry = this.entries.pack(keys);
      // shouldShare() promised the room; refusing here would make msgpackr pack again, forever.
      if (used + entry.length > this.bytes.length) throw new Error('shared structures overflow (a bug: shouldShare promised the room)');
      this.bytes.set(entry, used);
      used += entry.length;
      added.push(keys);
    }
    this.promised = 0;
    Atomics.store(this.words, USED, used);
    for (const keys of added) this.savedKeys.push(keys); // only once readers can see them
    return true;
  }

  /** Writer: the key lists saved so far (index i: record id 0x40 + i); append-only. */
  get savedShapes(): readonly (readonly string[])[] {
    return this.savedKeys;
  }

  /** Reader: whether structures were published since the last load(). */
  hasNew(): boolean {
    return Atomics.load(this.words, USED) > this.readBytes;
  }

  /** Reader (msgpackr's getStructures): every structure published so far, as a fresh list. */
  load(): Structures {
    const used = Atomics.load(this.words, USED);
    if (used > this.readBytes) {
      // A heap copy first: msgpackr's native string reader must not see shared memory.
      const copy = Buffer.from(this.bytes.subarray(this.readBytes, used));
      for (const keys of this.entryReader.unpackMultiple(copy) as string[][]) this.known.push(keys);
      this.readBytes = used;
    }
    return this.known.slice(); // msgpackr keeps and annotates the list it is given
  }
}
