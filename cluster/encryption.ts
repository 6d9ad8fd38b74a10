/**
 * Optional encryption of what cluster mode stores in Redis: AES-256-GCM (node:crypto), a fresh
 * 12-byte IV per message, the key id in front so keys can rotate.
 *
 * Keys come from the environment: RINGMASTER_CLUSTER_KEYS="id1:base64key,id2:base64key" (32-byte
 * keys; ids of 1-32 letters, digits, '_' or '-'). The first key encrypts; every listed key
 * decrypts. Rotation: put the new key first and keep the old one listed until no message written
 * with it is left in the streams (they are trimmed once acknowledged), then drop it.
 *
 * Sealed layout: u8 id length, id bytes, 12-byte IV, 16-byte GCM tag, ciphertext.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export const KEYS_ENV = 'RINGMASTER_CLUSTER_KEYS';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

export interface EncryptionKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

/** Parses RINGMASTER_CLUSTER_KEYS (or the given text); a clear error for a malformed list. */
export function keysFromEnv(text: string | undefined = process.env[KEYS_ENV]): EncryptionKey[] {
  if (text === undefined || text.trim() === '') throw new RangeError(`encryption is on but ${KEYS_ENV} is not set (id:base64key,...)`);
  return text.split(',').map((part) => {
    const at = part.indexOf(':');
    const id = part.slice(0, at).trim();
    const key = Buffer.from(part.slice(at + 1).trim(), 'base64');
    if (at < 0 || !KEY_ID.test(id)) throw new RangeError(`${KEYS_ENV}: '${part.slice(0, 40)}' is not id:base64key`);
    if (key.length !== 32) throw new RangeError(`${KEYS_ENV}: key '${id}' is ${key.length} bytes; AES-256 needs 32`);
    return { id, key };
  });
}

export class PayloadSealer {
  private readonly current: EncryptionKey;
  private readonly byId: Map<string, Buffer>;

  constructor(keys: readonly EncryptionKey[]) {
    if (keys.length === 0) throw new RangeError('encryption needs at least one key');
    this.current = keys[0]!;
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  seal(plain: Buffer): Buffer {
    const id = Buffer.from(this.current.id);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([Buffer.from([id.length]), id, iv, cipher.getAuthTag(), body]);
  }

  /** The plaintext; throws when the key id is unknown or the message was tampered with. */
  open(sealed: Buffer): Buffer {
    const idLength = sealed[0]!;
    const id = sealed.subarray(1, 1 + idLength).toString();
    const key = this.byId.get(id);
    if (key === undefined) throw new RangeError(`message sealed with key '${id}', which ${KEYS_ENV} does not list`);
    const ivAt = 1 + idLength;
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(ivAt, ivAt + IV_BYTES));
    decipher.setAuthTag(sealed.subarray(ivAt + IV_BYTES, ivAt + IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(ivAt + IV_BYTES + TAG_BYTES)), decipher.final()]);
  }
}
