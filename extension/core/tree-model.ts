/**
 * Labels, descriptions and tooltips of the prompt tree, from the registry's
 * answers. Pure: the VS Code tree provider only wraps these in TreeItems.
 */
import type { PromptSummary, VersionInfo } from '../../client/index.js';

export interface ItemText {
  label: string;
  description: string;
  tooltip: string;
}

function day(iso: string): string {
  return iso.slice(0, 10);
}

export function promptText(p: PromptSummary): ItemText {
  const live = Object.entries(p.environments)
    .map(([env, d]) => `${env} v${d.version}`)
    .join(', ');
  const tooltip = [
    p.name,
    p.description ?? '(no description)',
    `tags: ${p.tags.length ? p.tags.join(', ') : 'none'}`,
    `latest: ${p.latest_version === null ? 'none' : `v${p.latest_version}`}`,
    `live: ${live || 'nowhere'}`,
  ].join('\n');
  return { label: p.name, description: live || (p.latest_version ? `v${p.latest_version}` : ''), tooltip };
}

/** `v3 · 1a2b3c4 · alice · 2026-11-25`, with a ● badge per environment it is live in. */
export function versionText(v: VersionInfo): ItemText {
  const badges = v.environments.map((e) => `● ${e}`).join(' ');
  return {
    label: `v${v.version}`,
    description: [v.content_hash.slice(0, 7), v.created_by, day(v.created_at), badges].filter(Boolean).join(' · '),
    tooltip: [
      `${v.prompt} v${v.version}`,
      v.message ? `“${v.message}”` : undefined,
      `${v.model}, temperature ${v.temperature}, max_tokens ${v.max_tokens}`,
      `variables: ${v.variables.join(', ') || 'none'}`,
      `sha256 ${v.content_hash}`,
      `by ${v.created_by} on ${v.created_at}`,
      v.environments.length ? `live in ${v.environments.join(', ')}` : 'not live anywhere',
    ]
      .filter(Boolean)
      .join('\n'),
  };
}

export function liveText(p: PromptSummary, environment: string): ItemText {
  const d = p.environments[environment];
  return {
    label: p.name,
    description: d ? `v${d.version} · ${d.deployed_by} · ${day(d.deployed_at)}` : '',
    tooltip: d ? `${p.name} v${d.version} is live in ${environment}, deployed by ${d.deployed_by} at ${d.deployed_at}` : p.name,
  };
}

/** A filter as typed: words search names and descriptions, `tag:x` requires a tag. */
export function parseFilter(text: string): { search?: string; tags: string[] } {
  const tags: string[] = [];
  const words: string[] = [];
  for (const token of text.trim().split(/\s+/).filter(Boolean)) {
    if (token.startsWith('tag:') && token.length > 4) tags.push(token.slice(4));
    else words.push(token);
  }
  return { ...(words.length ? { search: words.join(' ') } : {}), tags };
}

export function describeFilter(f: { search?: string; tags: string[] }): string {
  return [f.search ? `"${f.search}"` : undefined, ...f.tags.map((t) => `tag:${t}`)].filter(Boolean).join(' ');
}

/** The page size the tree asks for: the API's largest. */
export const PAGE_SIZE = 100;
