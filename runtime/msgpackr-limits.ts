/**
 * Strings msgpackr would not carry as they are: the tests that send a message through node:v8
 * instead (codec.ts) or keep a shape off the fast path (shape-encoder.ts).
 */

/** True when a string holds a lone surrogate (msgpackr writes UTF-8, which replaces it). */
export const hasLoneSurrogate = (text: string): boolean => !text.isWellFormed();

/** True for an object key msgpackr would not carry as it is: a lone surrogate, or '__proto__' (its reader renames it). */
export const keyNeedsV8 = (key: string): boolean => hasLoneSurrogate(key) || key === '__proto__';
