import { createCipheriv, createDecipheriv, createHmac, randomBytes, randomUUID } from 'node:crypto';

/** Standard Webhooks' prefix for a symmetric signing secret: `whsec_` then base64 of the key bytes. */
const PREFIX = 'whsec_';
const MIN_BYTES = 24;
const MAX_BYTES = 64;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** A new signing secret: 32 random bytes. */
export function generateSecret(): string {
  return PREFIX + randomBytes(32).toString('base64');
}

/** The key bytes of a `whsec_<base64>` secret, or why it is not one. */
export function secretKey(secret: string): Buffer | string {
  if (!secret.startsWith(PREFIX)) return `a secret starts with "${PREFIX}" followed by base64 (Standard Webhooks); leave it out to have one generated`;
  const body = secret.slice(PREFIX.length);
  if (!BASE64.test(body) || body.length % 4 !== 0) return `the part after "${PREFIX}" must be standard base64`;
  const key = Buffer.from(body, 'base64');
  if (key.length < MIN_BYTES || key.length > MAX_BYTES) return `the secret must decode to ${MIN_BYTES} to ${MAX_BYTES} bytes (it has ${key.length})`;
  return key;
}

/** A delivery's webhook-id: unique, without '.', the same on every attempt. */
export function messageId(): string {
  return `msg_${randomUUID().replace(/-/g, '')}`;
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed with the secret's decoded bytes. */
export function sign(key: Buffer, id: string, timestampSeconds: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.`).update(body).digest('base64')}`;
}

/** Signing secrets are stored encrypted (AES-256-GCM) under a key derived from the server secret. */
export function encryptSecret(key: Buffer, secret: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const data = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), data.toString('base64')].join(':');
}

export function decryptSecret(key: Buffer, stored: string): string {
  const [version, iv, tag, data] = stored.split(':');
  if (version !== 'v1' || !iv || !tag || data === undefined) throw new Error('a webhook secret is stored in an unknown form');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
  decipher.setAuthTag(Buffer.from(tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(data, 'base64')), decipher.final()]).toString('utf8');
}
