// Small DOM helpers for the webviews. Text always goes in as textContent, never as HTML.

export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el as T;
};

type Child = Node | string | null | undefined | false;

/** An element with attributes (a `class`, `title`, data-*, …) and children; strings become text. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | number | boolean | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

/** A `<select>`'s options: [value, label] pairs, keeping the current choice when it is still there. */
export function setOptions(select: HTMLSelectElement, options: Array<[string, string]>, value = select.value): void {
  select.replaceChildren(...options.map(([v, label]) => h('option', { value: v }, label)));
  select.value = options.some(([v]) => v === value) ? value : (options[0]?.[0] ?? '');
}

/** Shows a message box (an empty state or an error), or hides it with null. */
export function showMessage(box: HTMLElement, message: string | null, kind: 'info' | 'error' = 'info', action?: { label: string; run: () => void }): void {
  box.hidden = message === null;
  box.className = `message ${kind}`;
  box.replaceChildren();
  if (message === null) return;
  box.append(h('span', {}, message));
  if (action) {
    const button = h('button', { type: 'button', class: 'secondary' }, action.label);
    button.addEventListener('click', action.run);
    box.append(' ', button);
  }
}
