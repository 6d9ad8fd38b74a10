/**
 * A plain object's for-in lists its own enumerable keys, and Object.prototype's enumerable ones
 * too. Those are rare (only code that assigns to Object.prototype makes them), so the walks over
 * a message use a bare for-in while there are none, and check each key otherwise.
 */

/** True while Object.prototype has no enumerable property (a for-in over it: a few ns). */
export function objectPrototypeClean(): boolean {
  for (const _ in Object.prototype) return false;
  return true;
}
