/**
 * The user's side of a device flow at oidc-provider's own pages, over HTTP:
 * verification page, code, login, consent. No import of the provider, so the
 * extension-host tests can bundle it.
 */

/** As a user: opens the verification page, enters the code, signs in as `login` (any password) and consents. */
export function approveDevice(verificationUri: string, userCode: string, login = 'ann'): Promise<void> {
  return userFlow(verificationUri, userCode, { login });
}

/** As a user: enters the code, then aborts instead of continuing. */
export function denyDevice(verificationUri: string, userCode: string): Promise<void> {
  return userFlow(verificationUri, userCode, { deny: true });
}

/** A tiny browser: keeps cookies, follows redirects, submits the page's form. */
class Browser {
  private readonly cookies = new Map<string, string>();

  async go(url: string, form?: Record<string, string>): Promise<{ url: string; html: string }> {
    let method = form ? 'POST' : 'GET';
    let body: string | undefined = form ? new URLSearchParams(form).toString() : undefined;
    for (let hops = 0; hops < 20; hops++) {
      const res = await fetch(url, {
        method,
        redirect: 'manual',
        headers: { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '), ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
        ...(body ? { body } : {}),
      });
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(';');
        const eq = pair!.indexOf('=');
        this.cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
      }
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        url = new URL(location, url).toString();
        method = 'GET';
        body = undefined;
        continue;
      }
      const html = await res.text();
      if (res.status >= 400) throw new Error(`${url} answered ${res.status}: ${text(html)}`);
      return { url, html };
    }
    throw new Error('too many redirects');
  }
}

/** The form's action and its inputs' names and values. */
function form(html: string, id?: string): { action: string; fields: Record<string, string> } | undefined {
  const forms = [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)];
  const found = forms.find((f) => !id || f[1]!.includes(`id="${id}"`));
  if (!found) return undefined;
  const action = /action="([^"]*)"/.exec(found[1]!)?.[1] ?? '';
  const fields: Record<string, string> = {};
  for (const input of found[2]!.matchAll(/<input\b([^>]*)>/g)) {
    const name = /name="([^"]*)"/.exec(input[1]!)?.[1];
    if (name) fields[name] = /value="([^"]*)"/.exec(input[1]!)?.[1] ?? '';
  }
  return { action: action.replace(/&amp;/g, '&'), fields };
}

const text = (html: string) => html.replace(/<style[\s\S]*?<\/style>|<script[\s\S]*?<\/script>/g, '').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 300);

/** The user's side of a device flow, page by page, as the provider's own forms ask. */
async function userFlow(verificationUri: string, userCode: string, as: { login?: string; deny?: boolean }): Promise<void> {
  const browser = new Browser();
  let page = await browser.go(verificationUri);
  for (let step = 0; step < 10; step++) {
    const at = new URL(page.url);
    const submit = (f: { action: string; fields: Record<string, string> }, extra: Record<string, string> = {}) => browser.go(new URL(f.action, at).toString(), { ...f.fields, ...extra });
    const input = form(page.html, 'op.deviceInputForm');
    const confirm = form(page.html, 'op.deviceConfirmForm');
    const other = form(page.html);
    if (/Sign-in Success/.test(page.html)) return;
    if (as.deny && /interrupted/.test(page.html)) return;
    if (input) page = await submit(input, { user_code: userCode });
    else if (confirm) page = await submit(confirm, as.deny ? { abort: 'yes', confirm: '' } : {});
    else if (other && 'login' in other.fields) page = await submit(other, { login: as.login ?? 'ann', password: 'any' });
    else if (other && (other.fields.prompt === 'consent' || 'xsrf' in other.fields)) page = await submit(other); // consent, or the auto-posting form of a link with the code in it
    else throw new Error(`unexpected page at ${page.url}: ${text(page.html)}`);
  }
  throw new Error('the device flow did not finish');
}
