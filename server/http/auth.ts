import type { Request } from 'express';
import type { Principal } from '../auth/principal.js';
import { unauthorized } from '../errors.js';
import type { KeyService } from '../keys/service.js';

/** Who sent the request, from its X-API-Key header; a 401 without a valid one. */
export async function authenticate(keys: KeyService, req: Request): Promise<Principal> {
  const header = req.headers['x-api-key'];
  const key = Array.isArray(header) ? header[0] : header;
  if (!key) throw unauthorized('this route needs an API key in the X-API-Key header');
  if (key.length > 200) throw unauthorized('the API key is not valid');
  const principal = await keys.authenticate(key);
  if (!principal) throw unauthorized('the API key is not valid, or it was revoked');
  return principal;
}
