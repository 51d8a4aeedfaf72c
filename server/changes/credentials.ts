import type { Principal } from '../auth/principal.js';
import type { ChangeFeed } from '../events.js';

/** Why a stream's credential stopped working: sent to the client as the stream's last event. */
export interface CredentialEnd {
  code: 'credential_revoked' | 'credential_expired';
  message: string;
}

export interface KeyLiveness {
  isLive(id: string): Promise<boolean>;
}

/** setTimeout's longest delay (about 24.8 days); a later expiry is reached in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function expired(principal: Principal): CredentialEnd {
  const at = principal.expiresAt!;
  return principal.oidc
    ? { code: 'credential_expired', message: `the bearer token expired at ${at}; refresh it (or sign in again) and reconnect` }
    : { code: 'credential_expired', message: `the API key "${principal.name}" expired at ${at}; reconnect with a new key` };
}

const revoked = (principal: Principal): CredentialEnd => ({
  code: 'credential_revoked',
  message: `the API key "${principal.name}" was revoked; reconnect with another key`,
});

/**
 * Calls `end` once when the credential a long-lived request was opened with
 * stops working: at its expiry (a key's expires_at, a token's exp), or when
 * its key is revoked, here or on another replica (the revocation travels
 * through the change feed). A key revoked between the request's
 * authentication and this subscription is caught by one read once listening.
 * Never calls `end` before returning the function that stops watching.
 */
export function watchCredential(principal: Principal, feed: ChangeFeed, keys: KeyLiveness, end: (why: CredentialEnd) => void): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const finish = (why: CredentialEnd) => {
    if (stopped) return;
    stop();
    end(why);
  };

  const keyId = principal.credential.startsWith('key:') ? principal.credential.slice(4) : undefined;
  const unsubscribe = keyId
    ? feed.subscribe((event) => {
        if (event.type === 'api_key.revoked' && event.key_id === keyId) finish(revoked(principal));
      })
    : () => undefined;
  if (keyId) {
    keys.isLive(keyId).then(
      (live) => {
        if (!live) finish(principal.expiresAt && Date.parse(principal.expiresAt) <= Date.now() ? expired(principal) : revoked(principal));
      },
      () => undefined, // the database is unreachable: the stream's changes stop too; the key is checked again at the next connect
    );
  }

  if (principal.expiresAt) {
    const at = Date.parse(principal.expiresAt);
    const wait = () => {
      const left = at - Date.now();
      timer = setTimeout(() => (left <= 0 ? finish(expired(principal)) : wait()), Math.min(Math.max(left, 0), MAX_TIMER_MS));
    };
    wait();
  }

  function stop(): void {
    stopped = true;
    clearTimeout(timer);
    unsubscribe();
  }
  return stop;
}
