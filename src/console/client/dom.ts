/// <reference lib="dom" />
// A few helpers to build the console's pages from plain DOM nodes (no framework to download).

type Child = Node | string | null | undefined | false;
type Attributes = Record<string, string | boolean | number | undefined | ((event: Event) => void)>;

/** An element with its attributes (on… handlers as listeners; false/undefined left out) and children. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') node.addEventListener(name.slice(2).toLowerCase(), value);
    else if (value === true) node.setAttribute(name, '');
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child);
  }
  return node;
}

let fieldCount = 0;

export interface Field {
  /** The labelled wrapper to place in a form. */
  row: HTMLElement;
  input: HTMLInputElement | HTMLSelectElement;
  value(): string;
  /** Shows `message` under the field (or clears it) and marks the input invalid. */
  setError(message: string | null): void;
}

/** A labelled input with its own place for an error, tied to it by aria-describedby. */
export function field(label: string, input: HTMLInputElement | HTMLSelectElement, hint?: string): Field {
  const id = `field-${++fieldCount}`;
  input.id = id;
  const error = el('p', { class: 'field-error', id: `${id}-error`, role: 'alert' });
  const hintNode = hint ? el('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  input.setAttribute('aria-describedby', [hintNode ? `${id}-hint` : '', `${id}-error`].join(' ').trim());
  const row = el('div', { class: 'field' }, el('label', { for: id }, label), input, hintNode, error);
  return {
    row,
    input,
    value: () => input.value.trim(),
    setError(message) {
      error.textContent = message ?? '';
      if (message) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    },
  };
}

// ICU lists some zones by their old names only (Asia/Calcutta, Europe/Kiev); the current ones are
// what people look for.
const CURRENT_NAMES = [
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Asia/Yangon',
  'Asia/Ho_Chi_Minh',
  'Europe/Kyiv',
  'America/Nuuk',
];

function isZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** The IANA zones this browser knows, the browser's own and UTC first. */
export function timeZoneSelect(selected: string): HTMLSelectElement {
  const own = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const known: string[] =
    (Intl as unknown as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf?.('timeZone') ?? [];
  const rest = [...new Set([...known, ...CURRENT_NAMES.filter(isZone)])].sort();
  const zones = new Set([own, 'UTC', ...rest]);
  const select = el('select', {});
  for (const zone of zones) {
    select.append(
      el('option', { value: zone, selected: zone === selected }, zone === own ? `${zone} (this browser)` : zone),
    );
  }
  return select;
}
