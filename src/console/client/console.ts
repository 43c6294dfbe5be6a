/// <reference lib="dom" />
import type { CustomerValues } from '../../domain/customer.js';
import { InvalidValueError } from '../../domain/invalid-value.js';
import { type FeedMessage, RequestFailed, type Session, attribute, follow, graphql } from './api.js';
import { parseCsvRecords, countCsvRows } from './csv.js';
import { type Field, el, field, timeZoneSelect } from './dom.js';
import { formatConsoleTime, parseConsoleTime } from './time.js';

// The compliance desk's console: sign in with a token, pick a context, then look an address up,
// read its timeline, open a customer, attribute a batch, watch changes arrive. Pages are chosen by
// the URL's fragment (#/lookup, #/customer/ID, …), so the browser's back button works.

// sessionStorage only: the token goes when the tab closes, is never sent as a cookie, never logged.
const TOKEN_KEY = 'ipdr-console.token';
const CONTEXT_KEY = 'ipdr-console.context';
const ZONE_KEY = 'ipdr-console.zone';

// The element the console draws in (startConsole).
let root: HTMLElement;

function session(): Session | null {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { token, context: sessionStorage.getItem(CONTEXT_KEY) } : null;
}

function chosenZone(): string {
  return sessionStorage.getItem(ZONE_KEY) ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
}

const show = (seconds: number | null | undefined) =>
  seconds === null || seconds === undefined ? 'ongoing' : formatConsoleTime(seconds, chosenZone());

/** Puts each error of a refused request next to the field it names, the rest in `general`. */
function showErrors(error: unknown, fields: Record<string, Field>, general: HTMLElement) {
  const errors = error instanceof RequestFailed ? error.errors : [{ message: String(error) }];
  const unplaced: string[] = [];
  for (const one of errors) {
    const name = RequestFailed.fieldOf(one);
    const target = name ? fields[name] : undefined;
    if (target) target.setError(one.message);
    else unplaced.push(one.message);
  }
  general.textContent = unplaced.join(' ');
  if (error instanceof RequestFailed && error.status === 401) {
    general.textContent = 'The gateway no longer accepts this token: sign in again.';
  }
}

/** Reads a Time field in the chosen zone, showing its error next to it; null when it is wrong. */
function readTime(input: Field, zone: string, required: boolean): number | null | undefined {
  const text = input.value();
  if (text === '') {
    if (required) input.setError('Time is required.');
    return required ? null : undefined;
  }
  try {
    return parseConsoleTime(text, zone);
  } catch (error) {
    input.setError(error instanceof InvalidValueError ? error.message : String(error));
    return null;
  }
}

/**
 * A form of labelled fields: on submit their errors are cleared, `submit` runs, and the first field
 * it marked wrong (before asking the gateway, or from its answer) takes the focus.
 */
function fieldForm(
  fields: Record<string, Field>,
  general: HTMLElement,
  submit: () => Promise<void>,
  submitLabel: string,
): HTMLFormElement {
  const form: HTMLFormElement = el(
    'form',
    {
      novalidate: true,
      onsubmit: async (event: Event) => {
        event.preventDefault();
        Object.values(fields).forEach((one) => one.setError(null));
        general.textContent = '';
        await submit();
        form.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
      },
    },
    el('div', { class: 'grid' }, ...Object.values(fields).map((one) => one.row)),
    el('button', { type: 'submit' }, submitLabel),
    general,
  );
  return form;
}

function page(title: string, ...content: (Node | null)[]) {
  const current = session();
  const nav = el(
    'nav',
    { 'aria-label': 'Console' },
    el(
      'ul',
      {},
      ...[
        ['#/lookup', 'Look up'],
        ['#/timeline', 'Timeline'],
        ['#/batch', 'Batch'],
        ['#/live', 'Live'],
      ].map(([href, label]) =>
        el(
          'li',
          {},
          el('a', { href: href!, 'aria-current': location.hash.startsWith(href!) ? 'page' : undefined }, label!),
        ),
      ),
    ),
    el(
      'div',
      { class: 'who' },
      el('span', {}, 'Context: ', el('strong', {}, current?.context ?? '—')),
      el('button', { type: 'button', onclick: () => ((location.hash = '#/context'), undefined) }, 'Change context'),
      el(
        'button',
        {
          type: 'button',
          onclick: () => {
            sessionStorage.removeItem(TOKEN_KEY);
            sessionStorage.removeItem(CONTEXT_KEY);
            location.hash = '#/sign-in';
          },
        },
        'Sign out',
      ),
    ),
  );
  const main = el('main', { id: 'main', tabindex: '-1' }, el('h1', {}, title), ...content);
  root.replaceChildren(el('header', {}, el('p', { class: 'brand' }, 'ipdr-gateway console'), nav), main);
  document.title = `${title} — ipdr-gateway console`;
}

// ---- Sign in and context -------------------------------------------------------------------

function signInPage() {
  const token = field('API token', el('input', { type: 'password', autocomplete: 'off', required: true }));
  const general = el('p', { class: 'form-error', role: 'alert' });
  const form = el(
    'form',
    {
      onsubmit: async (event: Event) => {
        event.preventDefault();
        token.setError(null);
        general.textContent = '';
        if (token.value() === '') return token.setError('Enter the API token you were given.');
        try {
          await graphql({ token: token.value(), context: null }, '{ contexts(first: 1) { name } }');
          sessionStorage.setItem(TOKEN_KEY, token.value());
          sessionStorage.removeItem(CONTEXT_KEY);
          location.hash = '#/context';
        } catch (error) {
          token.setError(
            error instanceof RequestFailed && error.status === 401
              ? 'This token was not accepted: check it, or ask for a new one.'
              : error instanceof Error
                ? error.message
                : String(error),
          );
        }
      },
    },
    token.row,
    el('button', { type: 'submit' }, 'Sign in'),
    general,
  );
  root.replaceChildren(
    el(
      'main',
      { id: 'main', class: 'sign-in' },
      el('h1', {}, 'Sign in'),
      el('p', {}, 'The token stays in this tab only and is gone when the tab closes.'),
      form,
    ),
  );
  document.title = 'Sign in — ipdr-gateway console';
  token.input.focus();
}

async function contextPage(current: Session) {
  const select = el('select', {});
  const context = field('Context', select);
  const general = el('p', { class: 'form-error', role: 'alert' });
  page(
    'Choose a context',
    el(
      'form',
      {
        onsubmit: (event: Event) => {
          event.preventDefault();
          sessionStorage.setItem(CONTEXT_KEY, select.value);
          location.hash = '#/lookup';
        },
      },
      context.row,
      el('button', { type: 'submit' }, 'Use this context'),
      general,
    ),
  );
  try {
    const data = await graphql<{ contexts: { name: string }[] }>(current, '{ contexts(first: 1000) { name } }');
    for (const { name } of data.contexts) {
      select.append(el('option', { value: name, selected: name === current.context }, name));
    }
    if (data.contexts.length === 0) general.textContent = 'This token may use no context.';
    select.focus();
  } catch (error) {
    showErrors(error, {}, general);
  }
}

// ---- Look up --------------------------------------------------------------------------------

const MAPPING_FIELDS = `id ipsubnet starttime endtime endInferred endReason source terminalId
  customer { userId name address email phoneNumber altPhoneNumber }
  radiusSession { userName acctSessionId nasIpAddress nasIdentifier startedAt endedAt }
  nat { kind publicAddress port portFirst portLast insideAddress insideContext source }`;

interface Mapping {
  id: number;
  ipsubnet: string;
  starttime: number;
  endtime: number | null;
  endInferred: boolean;
  endReason: string | null;
  source: string;
  terminalId: string | null;
  customer: Customer;
  radiusSession: {
    userName: string;
    acctSessionId: string;
    nasIpAddress: string | null;
    nasIdentifier: string | null;
  } | null;
  nat: {
    kind: string;
    publicAddress: string;
    port: number;
    portFirst: number;
    portLast: number;
    insideAddress: string;
    insideContext: string;
    source: string;
  } | null;
}

type Customer = CustomerValues;

const END_REASONS: Record<string, string> = {
  TIMED_OUT: 'nothing was heard of the session for longer than the session timeout',
  SUPERSEDED: 'another session began on this address (its Stop was lost)',
  ADDRESS_CHANGED: 'an Interim-Update of the session no longer listed this address',
  NAS_RESTARTED: 'the NAS restarted or stopped accounting',
};

function sourceOf(mapping: Mapping): string {
  if (mapping.nat) {
    return `NAT chain: ${mapping.nat.publicAddress} port ${mapping.nat.port} (block ${mapping.nat.portFirst}–${mapping.nat.portLast}, ${mapping.nat.kind} from ${mapping.nat.source}) → inside ${mapping.nat.insideAddress}`;
  }
  if (mapping.source === 'RADIUS') {
    const radius = mapping.radiusSession;
    return radius
      ? `RADIUS session ${radius.acctSessionId} of ${radius.userName} (NAS ${radius.nasIdentifier ?? radius.nasIpAddress ?? 'unknown'})`
      : 'RADIUS session';
  }
  return (
    {
      API: 'Static (set through the API)',
      REST: 'Static (set through the Trisul REST API)',
      CSV: 'Static (CSV import)',
    }[mapping.source] ?? mapping.source
  );
}

function customerDetails(customer: Customer) {
  const rows: [string, string | null][] = [
    ['UserID', customer.userId],
    ['Name', customer.name],
    ['Address', customer.address],
    ['Email', customer.email],
    ['Phone', customer.phoneNumber],
    ['Alternate phone', customer.altPhoneNumber],
  ];
  return el(
    'dl',
    { class: 'details' },
    ...rows.flatMap(([term, value]) => [el('dt', {}, term), el('dd', {}, value ?? '—')]),
  );
}

function mappingAnswer(mapping: Mapping, heading: string) {
  return el(
    'section',
    { class: 'answer', 'aria-label': heading },
    el('h2', {}, heading),
    el(
      'h3',
      {},
      'Customer ',
      el('a', { href: `#/customer/${encodeURIComponent(mapping.customer.userId)}` }, mapping.customer.userId),
    ),
    customerDetails(mapping.customer),
    el('h3', {}, 'Mapping'),
    el(
      'dl',
      { class: 'details' },
      el('dt', {}, 'Address'),
      el('dd', {}, mapping.ipsubnet),
      el('dt', {}, 'From'),
      el('dd', {}, show(mapping.starttime)),
      el('dt', {}, 'Until'),
      el('dd', {}, show(mapping.endtime)),
      el('dt', {}, 'Source'),
      el('dd', {}, sourceOf(mapping)),
      el('dt', {}, 'Mapping id'),
      el('dd', {}, String(mapping.id)),
    ),
    mapping.endInferred
      ? el(
          'p',
          { class: 'warning', role: 'note' },
          el('strong', {}, 'Warning: the end of this mapping was inferred, not reported. '),
          `The NAS never sent its end: ${END_REASONS[mapping.endReason ?? ''] ?? 'it was inferred'}. The customer may have held the address a little longer or shorter than shown.`,
        )
      : null,
  );
}

function lookupPage(current: Session) {
  const zone = chosenZone();
  const fields = {
    ip: field(
      'IP address',
      el('input', { type: 'text', inputmode: 'text', autocomplete: 'off', spellcheck: 'false', required: true }),
    ),
    port: field(
      'Port',
      el('input', { type: 'text', inputmode: 'numeric', autocomplete: 'off' }),
      'Optional: needed for an address shared through NAT.',
    ),
    at: field(
      'Time',
      el('input', { type: 'text', autocomplete: 'off', required: true }),
      'ISO 8601 (2026-11-01T10:15:00+05:30) or DD-MM-YYYY HH:MM:SS, read in the time zone below unless it names its own.',
    ),
    zone: field('Time zone', timeZoneSelect(zone)),
    reason: field(
      'Reason',
      el('input', { type: 'text', autocomplete: 'off', required: true }),
      'The case reference this lookup answers (kept in the lookup log).',
    ),
    asOf: field(
      'As known at',
      el('input', { type: 'text', autocomplete: 'off' }),
      'Optional: answer from the records as they stood then, before later corrections.',
    ),
  };
  const general = el('p', { class: 'form-error', role: 'alert' });
  const result = el('div', { 'aria-live': 'polite' });
  const form = fieldForm(
    fields,
    general,
    async () => {
      result.replaceChildren();
      const zoneName = fields.zone.value();
      sessionStorage.setItem(ZONE_KEY, zoneName);
      const ip = fields.ip.value();
      if (ip === '') fields.ip.setError('IP address is required.');
      const portText = fields.port.value();
      const port =
        portText === '' ? undefined : /^\d{1,5}$/.test(portText) && Number(portText) <= 65535 ? Number(portText) : null;
      if (port === null) fields.port.setError(`"${portText}" is not a port (0-65535).`);
      const at = readTime(fields.at, zoneName, true);
      const asOf = readTime(fields.asOf, zoneName, false);
      const reason = fields.reason.value();
      if (reason === '') fields.reason.setError('Reason is required: the case reference this lookup answers.');
      if (ip === '' || port === null || at === null || asOf === null || reason === '') return;
      try {
        const data = await graphql<{ whoHad: Mapping | null }>(
          current,
          `query($ip: IPAddress!, $port: Int, $at: UnixTime, $asOf: UnixTime, $reason: String) {
              whoHad(ip: $ip, port: $port, at: $at, asOf: $asOf, reason: $reason) { ${MAPPING_FIELDS} } }`,
          { ip, port, at, asOf, reason },
        );
        const when = `${ip}${port === undefined ? '' : ` port ${port}`} at ${show(at)}${asOf === undefined ? '' : `, as known at ${show(asOf)}`}`;
        result.replaceChildren(
          data.whoHad
            ? mappingAnswer(data.whoHad, `Held by ${data.whoHad.customer.name}: ${when}`)
            : el('section', { class: 'answer', 'aria-label': 'Answer' }, el('h2', {}, `Nobody held ${when}`)),
        );
        result.scrollIntoView({ block: 'nearest' });
      } catch (error) {
        showErrors(error, fields, general);
      }
    },
    'Look up',
  );
  page('Look up an address', form, result);
  fields.ip.input.focus();
}

// ---- Timeline -------------------------------------------------------------------------------

function timelinePage(current: Session) {
  const zone = chosenZone();
  const fields = {
    ip: field(
      'IP address or subnet',
      el('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', required: true }),
    ),
    from: field(
      'From',
      el('input', { type: 'text', autocomplete: 'off', required: true }),
      'ISO 8601 or DD-MM-YYYY HH:MM:SS.',
    ),
    to: field('To', el('input', { type: 'text', autocomplete: 'off', required: true })),
    zone: field('Time zone', timeZoneSelect(zone)),
    reason: field('Reason', el('input', { type: 'text', autocomplete: 'off', required: true }), 'The case reference.'),
  };
  const general = el('p', { class: 'form-error', role: 'alert' });
  const result = el('div', {});
  const form = fieldForm(
    fields,
    general,
    async () => {
      const zoneName = fields.zone.value();
      sessionStorage.setItem(ZONE_KEY, zoneName);
      const ip = fields.ip.value();
      if (ip === '') fields.ip.setError('IP address or subnet is required.');
      const from = readTime(fields.from, zoneName, true);
      const to = readTime(fields.to, zoneName, true);
      if (from != null && to != null && to < from) fields.to.setError('To is before From.');
      const reason = fields.reason.value();
      if (reason === '') fields.reason.setError('Reason is required: the case reference.');
      if (Object.values(fields).some((one) => one.input.getAttribute('aria-invalid') === 'true')) return;
      try {
        const mappings: Mapping[] = [];
        let after: string | null = null;
        // Every page of the window: a timeline with thousands of holders is a report, not a chart.
        for (let pageCount = 0; pageCount < 8; pageCount++) {
          const data: {
            ipHistory: { edges: { node: Mapping }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
          } = await graphql(
            current,
            `query($ip: IPSubnet!, $from: UnixTime, $to: UnixTime, $reason: String, $after: String) {
                  ipHistory(ip: $ip, from: $from, to: $to, reason: $reason, first: 250, after: $after) {
                    edges { node { ${MAPPING_FIELDS} } } pageInfo { hasNextPage endCursor } } }`,
            { ip, from, to, reason, after },
          );
          mappings.push(...data.ipHistory.edges.map((edge) => edge.node));
          if (!data.ipHistory.pageInfo.hasNextPage) break;
          after = data.ipHistory.pageInfo.endCursor;
        }
        result.replaceChildren(timelineChart(mappings, from!, to!));
        result.scrollIntoView({ block: 'nearest' });
      } catch (error) {
        showErrors(error, fields, general);
      }
    },
    'Show timeline',
  );
  page('Timeline of an address', form, result);
  fields.ip.input.focus();
}

function timelineChart(mappings: Mapping[], from: number, to: number) {
  if (mappings.length === 0) return el('p', { class: 'empty' }, 'Nobody held it in this window.');
  const span = Math.max(1, to - from + 1);
  const detail = el(
    'p',
    { class: 'bar-detail', 'aria-live': 'polite' },
    'Hover over or focus a bar to see its mapping; press it to open the customer.',
  );
  const holders = new Map<string, Mapping[]>();
  for (const mapping of mappings)
    holders.set(mapping.customer.userId, [...(holders.get(mapping.customer.userId) ?? []), mapping]);
  const describe = (mapping: Mapping) =>
    `${mapping.customer.userId} (${mapping.customer.name}) held ${mapping.ipsubnet} from ${show(mapping.starttime)} until ${show(mapping.endtime)}; ${sourceOf(mapping)}${mapping.endInferred ? '; end inferred' : ''}`;
  const rows = [...holders.entries()].map(([userId, held]) =>
    el(
      'div',
      { class: 'track', role: 'listitem' },
      el('span', { class: 'track-label' }, userId),
      el(
        'div',
        { class: 'track-bars' },
        ...held.map((mapping) => {
          const start = Math.max(from, mapping.starttime);
          const end = Math.min(to, mapping.endtime ?? to);
          const left = ((start - from) / span) * 100;
          const width = Math.max(0.6, ((end - start + 1) / span) * 100);
          const text = describe(mapping);
          const bar = el(
            'button',
            {
              type: 'button',
              class: mapping.endInferred ? 'bar inferred' : 'bar',
              'aria-label': text,
              title: text,
              onclick: () => ((location.hash = `#/customer/${encodeURIComponent(userId)}`), undefined),
            },
            mapping.ipsubnet,
          );
          // Through the CSSOM: the page's Content-Security-Policy refuses style attributes.
          bar.style.left = `${left}%`;
          bar.style.width = `${width}%`;
          const showDetail = () => (detail.textContent = text);
          bar.addEventListener('mouseenter', showDetail);
          bar.addEventListener('focus', showDetail);
          return bar;
        }),
      ),
    ),
  );
  return el(
    'section',
    { class: 'timeline', 'aria-label': 'Timeline' },
    el(
      'h2',
      {},
      `${mappings.length} mapping${mappings.length === 1 ? '' : 's'}, ${holders.size} holder${holders.size === 1 ? '' : 's'}`,
    ),
    el('div', { class: 'axis' }, el('span', {}, show(from)), el('span', {}, show(to))),
    el('div', { role: 'list', class: 'tracks' }, ...rows),
    detail,
  );
}

// ---- Customer -------------------------------------------------------------------------------

async function customerPage(current: Session, userId: string) {
  const general = el('p', { class: 'form-error', role: 'alert' });
  page(`Customer ${userId}`, general);
  try {
    const data = await graphql<{
      customer: (Customer & { id: number; mappings: Mapping[] }) | null;
    }>(
      current,
      `query($userId: String!) { customer(userId: $userId) { id userId name address email phoneNumber altPhoneNumber mappings(first: 1000) { ${MAPPING_FIELDS} } } }`,
      { userId },
    );
    const customer = data.customer;
    if (!customer) {
      general.textContent = `No customer has the UserID ${userId} in this context.`;
      return;
    }
    const audit = await graphql<{
      auditEvents: { edges: { node: { id: number; at: string; actor: string; channel: string; action: string } }[] };
    }>(
      current,
      `
        query ($id: Int!) {
          auditEvents(entityType: "customer", entityId: $id, last: 100) {
            edges {
              node {
                id
                at
                actor
                channel
                action
              }
            }
          }
        }
      `,
      { id: customer.id },
    );
    const now = Date.now() / 1000;
    const currentMappings = customer.mappings.filter((mapping) => mapping.endtime === null || mapping.endtime >= now);
    const pastMappings = customer.mappings.filter((mapping) => !currentMappings.includes(mapping));
    const table = (caption: string, mappings: Mapping[]) =>
      mappings.length === 0
        ? el('p', { class: 'empty' }, `${caption}: none.`)
        : el(
            'div',
            { class: 'scroll' },
            el(
              'table',
              {},
              el('caption', {}, caption),
              el(
                'thead',
                {},
                el(
                  'tr',
                  {},
                  ...['Address', 'From', 'Until', 'Source', 'Id'].map((name) => el('th', { scope: 'col' }, name)),
                ),
              ),
              el(
                'tbody',
                {},
                ...mappings.map((mapping) =>
                  el(
                    'tr',
                    {},
                    el('td', {}, mapping.ipsubnet),
                    el('td', {}, show(mapping.starttime)),
                    el(
                      'td',
                      {},
                      show(mapping.endtime),
                      mapping.endInferred ? el('span', { class: 'badge' }, ' (inferred)') : null,
                    ),
                    el('td', {}, sourceOf(mapping)),
                    el('td', {}, String(mapping.id)),
                  ),
                ),
              ),
            ),
          );
    page(
      `Customer ${customer.userId}`,
      el('section', { 'aria-label': 'Details' }, el('h2', {}, customer.name), customerDetails(customer)),
      el(
        'section',
        { 'aria-label': 'Mappings' },
        el('h2', {}, 'Mappings'),
        table('Current mappings', currentMappings),
        table('Past mappings', pastMappings),
      ),
      el(
        'section',
        { 'aria-label': 'Audit history' },
        el('h2', {}, 'Audit history'),
        audit.auditEvents.edges.length === 0
          ? el('p', { class: 'empty' }, 'No recorded changes.')
          : el(
              'div',
              { class: 'scroll' },
              el(
                'table',
                {},
                el('caption', {}, 'Changes to this customer, oldest first'),
                el(
                  'thead',
                  {},
                  el('tr', {}, ...['When', 'What', 'Who', 'How'].map((name) => el('th', { scope: 'col' }, name))),
                ),
                el(
                  'tbody',
                  {},
                  ...audit.auditEvents.edges.map(({ node }) =>
                    el(
                      'tr',
                      {},
                      el('td', {}, show(Date.parse(node.at) / 1000)),
                      el('td', {}, node.action),
                      el('td', {}, node.actor),
                      el('td', {}, node.channel),
                    ),
                  ),
                ),
              ),
            ),
      ),
    );
  } catch (error) {
    showErrors(error, {}, general);
  }
}

// ---- Batch ----------------------------------------------------------------------------------

function batchPage(current: Session) {
  const fields = {
    file: field(
      'CSV file',
      el('input', { type: 'file', accept: '.csv,text/csv', required: true }),
      'A header row naming ip, time and optionally port; other columns are kept.',
    ),
    zone: field('Time zone', timeZoneSelect(chosenZone()), 'For times written DD-MM-YYYY HH:MM:SS.'),
    reason: field('Reason', el('input', { type: 'text', autocomplete: 'off', required: true }), 'The case reference.'),
  };
  const general = el('p', { class: 'form-error', role: 'alert' });
  const progress = el('progress', { max: '1', value: '0', 'aria-label': 'Rows attributed' });
  const status = el('p', { role: 'status' });
  const result = el('div', {});
  const form = fieldForm(
    fields,
    general,
    async () => {
      result.replaceChildren();
      const file = (fields.file.input as HTMLInputElement).files?.[0];
      if (!file) fields.file.setError('Choose a CSV file.');
      const reason = fields.reason.value();
      if (reason === '') fields.reason.setError('Reason is required: the case reference.');
      if (!file || reason === '') return;
      const zone = fields.zone.value();
      sessionStorage.setItem(ZONE_KEY, zone);
      const total = countCsvRows(await file.text());
      progress.max = Math.max(1, total);
      progress.value = 0;
      status.textContent = `Attributing ${total} rows…`;
      try {
        const text = await attribute(current, file, { reason, timeZone: zone }, ({ rowsAnswered }) => {
          progress.value = Math.min(rowsAnswered, total);
          status.textContent = `${Math.min(rowsAnswered, total)} of ${total} rows attributed…`;
        });
        const [header = [], ...rows] = parseCsvRecords(text);
        const errorColumn = header.indexOf('error');
        const userColumn = header.indexOf('userid');
        const bad = rows.map((row, index) => ({ row, line: index + 2 })).filter(({ row }) => row[errorColumn]);
        const held = rows.filter((row) => !row[errorColumn] && row[userColumn]).length;
        progress.value = progress.max;
        status.textContent = `Done: ${rows.length} rows, ${held} attributed to a customer, ${rows.length - held - bad.length} held by nobody, ${bad.length} bad.`;
        const download = el(
          'a',
          {
            href: URL.createObjectURL(new Blob([text], { type: 'text/csv' })),
            download: file.name.replace(/(\.csv)?$/i, '-attributed.csv'),
            class: 'button',
          },
          'Download attributed CSV',
        );
        result.replaceChildren(
          download,
          bad.length === 0
            ? el('p', {}, 'No bad rows.')
            : el(
                'div',
                { class: 'scroll' },
                el(
                  'table',
                  { class: 'bad-rows' },
                  el('caption', {}, `Bad rows (${bad.length}): left unattributed, the rest went on`),
                  el(
                    'thead',
                    {},
                    el(
                      'tr',
                      {},
                      el('th', { scope: 'col' }, 'Line'),
                      el('th', { scope: 'col' }, 'Row'),
                      el('th', { scope: 'col' }, 'Error'),
                    ),
                  ),
                  el(
                    'tbody',
                    {},
                    ...bad.map(({ row, line }) =>
                      el(
                        'tr',
                        { class: 'bad' },
                        el('td', {}, String(line)),
                        el('td', {}, row.slice(0, Math.max(1, header.indexOf('userid'))).join(', ')),
                        el('td', {}, row[errorColumn]!),
                      ),
                    ),
                  ),
                ),
              ),
        );
      } catch (error) {
        status.textContent = '';
        showErrors(error, fields, general);
      }
    },
    'Attribute',
  );
  page('Attribute a batch', form, progress, status, result);
}

// ---- Live -----------------------------------------------------------------------------------

let liveStop: AbortController | null = null;

function livePage(current: Session) {
  const list = el('ol', { class: 'events', 'aria-live': 'polite', 'aria-label': 'Recent changes, newest first' });
  const state = el('p', { role: 'status' }, 'Connecting…');
  page('Live changes', state, list);
  liveStop = new AbortController();
  const add = (text: string) => {
    list.prepend(el('li', {}, text));
    while (list.children.length > 200) list.lastElementChild!.remove();
  };
  const onState = (next: 'open' | 'reconnecting' | { error: string }) => {
    state.textContent =
      next === 'open'
        ? 'Receiving changes as they happen.'
        : next === 'reconnecting'
          ? 'Connection lost: reconnecting…'
          : next.error;
  };
  const mappingText = (event: FeedMessage) => {
    const mapping = event.mapping as Mapping | null;
    const what = mapping
      ? `${mapping.ipsubnet} of ${mapping.customer.userId} (${sourceOf(mapping)}, ${show(mapping.starttime)} until ${show(mapping.endtime)})`
      : `mappings ${event.entityId}–${event.entityIdLast}`;
    return `${formatConsoleTime(Date.parse(String(event.at)) / 1000, chosenZone())} · mapping ${event.action}: ${what} · by ${event.actor} via ${event.channel}`;
  };
  const customerText = (event: FeedMessage) => {
    const customer = event.customer as Customer | null;
    return `${formatConsoleTime(Date.parse(String(event.at)) / 1000, chosenZone())} · customer ${event.action}: ${customer ? `${customer.userId} (${customer.name})` : `customers ${event.entityId}–${event.entityIdLast}`} · by ${event.actor} via ${event.channel}`;
  };
  void follow(
    current,
    `subscription($after: ID) { mappingEvents(after: $after) { id action at actor channel entityId entityIdLast mapping { ${MAPPING_FIELDS} } } }`,
    (event) => add(mappingText(event)),
    onState,
    liveStop.signal,
  );
  void follow(
    current,
    `subscription($after: ID) { customerEvents(after: $after) { id action at actor channel entityId entityIdLast customer { userId name } } }`,
    (event) => add(customerText(event)),
    () => {},
    liveStop.signal,
  );
}

// ---- Routing --------------------------------------------------------------------------------

function route() {
  liveStop?.abort();
  liveStop = null;
  const current = session();
  const [, name = '', argument = ''] = location.hash.split('/');
  if (!current || name === 'sign-in') return signInPage();
  if (name === 'context' || !current.context) return void contextPage(current);
  if (name === 'timeline') return timelinePage(current);
  if (name === 'customer' && argument) return void customerPage(current, decodeURIComponent(argument));
  if (name === 'batch') return batchPage(current);
  if (name === 'live') return livePage(current);
  return lookupPage(current);
}

/** Draws the console in `element` and follows the URL's fragment from then on. */
export function startConsole(element: HTMLElement) {
  root = element;
  window.addEventListener('hashchange', route);
  route();
}
