import { BlockList, isIP } from 'node:net';

/**
 * Where webhooks may not go unless the admin allow-list names it: loopback,
 * private (RFC 1918, carrier-grade NAT, IPv6 ULA), link-local (the cloud
 * metadata address 169.254.169.254 among them), unspecified, multicast and
 * reserved ranges. IPv4 written inside IPv6 (::ffff:10.0.0.1, 64:ff9b::a00:1)
 * is judged as the IPv4 address it carries.
 */
const FORBIDDEN: ReadonlyArray<readonly [string, number, 'ipv4' | 'ipv6', string]> = [
  ['0.0.0.0', 8, 'ipv4', 'unspecified'],
  ['10.0.0.0', 8, 'ipv4', 'private'],
  ['100.64.0.0', 10, 'ipv4', 'private (carrier-grade NAT)'],
  ['127.0.0.0', 8, 'ipv4', 'loopback'],
  ['169.254.0.0', 16, 'ipv4', 'link-local'],
  ['172.16.0.0', 12, 'ipv4', 'private'],
  ['192.0.0.0', 24, 'ipv4', 'reserved'],
  ['192.168.0.0', 16, 'ipv4', 'private'],
  ['198.18.0.0', 15, 'ipv4', 'reserved (benchmarking)'],
  ['224.0.0.0', 4, 'ipv4', 'multicast'],
  ['240.0.0.0', 4, 'ipv4', 'reserved'],
  ['::', 128, 'ipv6', 'unspecified'],
  ['::1', 128, 'ipv6', 'loopback'],
  ['fc00::', 7, 'ipv6', 'private (unique local)'],
  ['fe80::', 10, 'ipv6', 'link-local'],
  ['fec0::', 10, 'ipv6', 'site-local'],
  ['ff00::', 8, 'ipv6', 'multicast'],
];

/** The 16 bytes of an IPv6 address (already known valid), for reading an IPv4 address inside it. */
function ipv6Bytes(address: string): number[] {
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, -v4[1]!.length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const groups = (s: string | undefined) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

/** The IPv4 address an IPv6 one carries (IPv4-mapped ::ffff:0:0/96, NAT64 64:ff9b::/96), if it does. */
function embeddedIpv4(address: string): string | undefined {
  const b = ipv6Bytes(address);
  const mapped = b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  const nat64 = b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && b.slice(4, 12).every((x) => x === 0);
  return mapped || nat64 ? b.slice(12).join('.') : undefined;
}

/** An address as the family and text it is judged by (an IPv4-mapped IPv6 address as its IPv4). */
function normalise(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (isIP(bare) === 4) return { address: bare, family: 'ipv4' };
  const v4 = embeddedIpv4(bare);
  return v4 ? { address: v4, family: 'ipv4' } : { address: bare.toLowerCase(), family: 'ipv6' };
}

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i;

/** Checks one PROMPT_REGISTRY_WEBHOOK_ALLOWED_HOSTS entry: a host name, an address, or a CIDR range. */
export function parseAllowEntry(entry: string): { kind: 'host'; host: string } | { kind: 'range'; address: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const slash = entry.indexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const version = isIP(bare);
  if (version) {
    const max = version === 4 ? 32 : 128;
    const prefix = slash === -1 ? max : Number(entry.slice(slash + 1));
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (slash !== -1 && !/^\d+$/.test(entry.slice(slash + 1)))) {
      throw new Error(`PROMPT_REGISTRY_WEBHOOK_ALLOWED_HOSTS: "${entry}" has an invalid prefix length: use 0 to ${max}`);
    }
    return { kind: 'range', address: bare.toLowerCase(), prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
  }
  if (slash === -1 && HOSTNAME.test(entry)) return { kind: 'host', host: entry.toLowerCase().replace(/\.$/, '') };
  throw new Error(`PROMPT_REGISTRY_WEBHOOK_ALLOWED_HOSTS: "${entry}" is neither a host name, an IP address nor a CIDR range (e.g. hooks.internal, 10.1.2.3, 10.0.0.0/8, fd00::/8)`);
}

/** Splits and checks the comma-separated allow-list. */
export function parseAllowList(text: string | undefined): string[] {
  const entries = (text ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const entry of entries) parseAllowEntry(entry);
  return entries;
}

/**
 * Decides where webhooks may be sent: any public address, and the hosts and
 * ranges the admin allow-list names. A host named in the list is allowed
 * whatever it resolves to; a range allows the addresses in it.
 */
export class AddressPolicy {
  private readonly forbidden = new BlockList();
  private readonly allowedRanges = new BlockList();
  private readonly allowedHosts = new Set<string>();

  constructor(allowList: readonly string[]) {
    for (const [address, prefix, family] of FORBIDDEN) this.forbidden.addSubnet(address, prefix, family);
    for (const entry of allowList) {
      const parsed = parseAllowEntry(entry);
      if (parsed.kind === 'host') this.allowedHosts.add(parsed.host);
      else this.allowedRanges.addSubnet(parsed.address, parsed.prefix, parsed.family);
    }
  }

  /** Whether the allow-list names this host (by name, or an address literal in a listed range). */
  hostAllowed(host: string): boolean {
    const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    return this.allowedHosts.has(bare.toLowerCase().replace(/\.$/, ''));
  }

  /** Why an address may not be used (e.g. "private"), or undefined when it may. */
  refusal(address: string): string | undefined {
    const given = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
    const { address: a, family } = normalise(given);
    if (this.allowedRanges.check(a, family) || this.allowedRanges.check(given.toLowerCase(), isIP(given) === 4 ? 'ipv4' : 'ipv6')) return undefined;
    if (!this.forbidden.check(a, family)) return undefined;
    for (const [net, prefix, fam, why] of FORBIDDEN) {
      if (fam !== family) continue;
      const one = new BlockList();
      one.addSubnet(net, prefix, fam);
      if (one.check(a, family)) return why;
    }
    return 'not public';
  }
}
