import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SPEC_DIR, curlExamples, fixturePages, specPresent } from './helpers.js';

// The fixtures of Trisul's documented calls (test/fixtures/trisul-api/) are written from the
// reference pages in ../shared/spec/. Where those pages sit beside the project, this checks the
// fixtures still say what the pages say; a clone has no such folder, and then there is nothing
// to compare with.

interface PageValue {
  value: unknown;
  /** The status of the table row the value sits in, or of the nearest one above it. */
  status: number | undefined;
}

const statusRow = /^\|\s*(\d{3})\s*\|/;

/** Every JSON object or array written on a page, with the documented status it goes with. */
function pageValues(text: string): PageValue[] {
  const values: PageValue[] = [];
  let status: number | undefined;
  const lines = text.split('\n');
  for (let line = 0; line < lines.length; line++) {
    const row = statusRow.exec(lines[line]!);
    if (row) status = Number(row[1]);
    const start = lines[line]!.search(/[[{]/);
    if (start < 0) continue;
    // The value may span lines: take the shortest run of lines from here that parses.
    for (let end = line, chunk = lines[line]!.slice(start); end < lines.length && end < line + 200;) {
      const parsed = parseJson(chunk.replace(/\s*\|\s*$/, ''));
      if (parsed.ok) {
        values.push({ value: parsed.value, status });
        line = end;
        break;
      }
      end++;
      chunk += `\n${lines[end] ?? ''}`;
    }
  }
  return values;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

describe.skipIf(!specPresent)("the fixtures match Trisul's pages in ../shared/spec/", () => {
  const fixtures = fixturePages();

  it('every page with a curl example has a fixture', () => {
    const pages = readdirSync(SPEC_DIR).filter((page) => /^trisul-/.test(page) && curlExamples(page).length > 0);
    expect(fixtures.map(([, fixture]) => fixture.page).sort()).toEqual(pages.sort());
  });

  describe.each(fixtures)('%s', (_file, fixture) => {
    it("its requests are the page's curl examples, in order", () => {
      const fromPage = fixture.calls.filter((call) => call.requestOnPage).map((call) => call.request);
      expect(fromPage).toEqual(curlExamples(fixture.page));
    });

    it('its documented responses are on the page, with their status', () => {
      const values = pageValues(readFileSync(new URL(fixture.page, SPEC_DIR), 'utf8'));
      for (const call of fixture.calls.filter((c) => c.responseOnPage)) {
        const found = values.filter((v) => JSON.stringify(v.value) === JSON.stringify(call.response.body));
        expect(found, call.title).not.toEqual([]);
        // Pages without a status table document only the body.
        const statuses = found.map((v) => v.status).filter((s) => s !== undefined);
        if (statuses.length > 0) expect(statuses, call.title).toContain(call.response.status);
      }
    });

    it('says why a response is not from the page', () => {
      for (const call of fixture.calls) expect(call.responseOnPage || Boolean(call.note), call.title).toBe(true);
    });
  });
});
