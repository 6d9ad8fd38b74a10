/** Payload encryption for cluster mode: AES-256-GCM with key ids, rotation, tamper detection. */
import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { keysFromEnv, PayloadSealer } from '../dist/cluster/encryption.js';

const key = () => randomBytes(32);

describe('PayloadSealer', () => {
  test('seals and opens; the ciphertext does not contain the plaintext; each seal has its own IV', () => {
    const sealer = new PayloadSealer([{ id: 'k1', key: key() }]);
    const plain = Buffer.from('user-42 paid 12.50 with card 4111');
    const a = sealer.seal(plain);
    const b = sealer.seal(plain);
    expect(a.includes(plain)).toBe(false);
    expect(a.equals(b)).toBe(false);
    expect(sealer.open(a).equals(plain)).toBe(true);
  });

  test('rotation: the first key seals, every listed key opens; a dropped key is a clear error', () => {
    const old = { id: 'old', key: key() };
    const fresh = { id: 'new', key: key() };
    const before = new PayloadSealer([old]).seal(Buffer.from('x'));
    const rotated = new PayloadSealer([fresh, old]);
    expect(rotated.open(before).toString()).toBe('x');
    const after = rotated.seal(Buffer.from('y'));
    expect(after.subarray(1, 4).toString()).toBe('new');
    expect(() => new PayloadSealer([fresh]).open(before)).toThrow(/key 'old'/);
  });

  test('a tampered message does not open', () => {
    const sealer = new PayloadSealer([{ id: 'k', key: key() }]);
    const sealed = sealer.seal(Buffer.from('hello'));
    sealed[sealed.length - 1]! ^= 1;
    expect(() => sealer.open(sealed)).toThrow();
  });

  test('keys from RINGMASTER_CLUSTER_KEYS, with clear errors for a bad list', () => {
    const k1 = key().toString('base64');
    const k2 = key().toString('base64');
    expect(keysFromEnv(`a:${k1},b:${k2}`).map((k) => k.id)).toEqual(['a', 'b']);
    expect(() => keysFromEnv(undefined)).toThrow(/not set/);
    expect(() => keysFromEnv('a:' + randomBytes(16).toString('base64'))).toThrow(/32/);
    expect(() => keysFromEnv('nokey')).toThrow(/id:base64key/);
  });
});
