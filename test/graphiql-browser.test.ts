import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { yoga } from './setup/app.js';
import { launchChromium, pngSize } from './setup/chromium.js';
import { ADMIN_TOKEN } from './setup/credentials.js';

// GraphiQL in a real browser that can reach only the gateway: every request to another host is
// refused, and the editor must still come up and run a query.
//
// Chromium is Debian's (`apt-get install -y chromium`; .ci/run installs it): Playwright's own
// browser download needs the internet.

const TIME_LIMIT_MS = 60_000;

let server: Server;
let origin: string;
let browser: Browser | undefined;
const screenshotDir = mkdtempSync(join(tmpdir(), 'ipdr-graphiql-'));

beforeAll(async () => {
  server = createServer(yoga);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await browser?.close();
  server.closeAllConnections();
  server.close();
  rmSync(screenshotDir, { recursive: true, force: true });
});

/** An editor's text as shown, with its non-breaking spaces read as spaces. */
const textOf = async (locator: Locator) => (await locator.innerText()).replace(/\u00a0/g, ' ');

describe('GraphiQL in headless Chromium', () => {
  it(
    'shows the editor and runs a query with every other host unreachable',
    async () => {
      browser = await launchChromium(TIME_LIMIT_MS);
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      context.setDefaultTimeout(TIME_LIMIT_MS);
      const elsewhere: string[] = [];
      const local: string[] = [];
      await context.route('**/*', (route) => {
        const url = route.request().url();
        if (new URL(url).origin === origin) {
          local.push(url);
          return route.continue();
        }
        elsewhere.push(url);
        return route.abort('blockedbyclient');
      });
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));

      try {
        await showsTheEditorAndRunsAQuery(page);
      } finally {
        // Checked even when the page failed to come up: a request elsewhere is the likely reason.
        expect(elsewhere, 'requests to hosts other than the gateway').toEqual([]);
      }
      expect(local.some((url) => new URL(url).pathname === '/graphql')).toBe(true);
      expect(pageErrors).toEqual([]);
    },
    3 * TIME_LIMIT_MS,
  );
});

async function showsTheEditorAndRunsAQuery(page: Page) {
  const response = await page.goto(`${origin}/graphql`, { waitUntil: 'load' });
  expect(response?.status()).toBe(200);
  await page.locator('.graphiql-container').first().waitFor({ state: 'visible' });
  const queryEditor = page.locator('.graphiql-query-editor .monaco-editor').first();
  await queryEditor.waitFor({ state: 'visible' });
  const headersEditor = page.locator('.graphiql-editor-tool .monaco-editor').filter({ visible: true });
  await expect.poll(() => textOf(headersEditor), { timeout: TIME_LIMIT_MS }).toContain('Bearer <your API token>');

  // As a user does: the token into the headers editor, a query of ours, run. The editor closes
  // brackets and quotes itself; whatever it added past the end of the typed text is deleted.
  const replaceText = async (editor: Locator, text: string) => {
    await editor.click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type(text);
    await page.keyboard.press('Shift+ControlOrMeta+End');
    await page.keyboard.press('Delete');
  };
  await replaceText(headersEditor, `{"Authorization": "Bearer ${ADMIN_TOKEN}"}`);
  await replaceText(queryEditor, '{ contexts { name } }');
  await page.locator('.graphiql-execute-button').click();
  await expect
    .poll(() => textOf(page.locator('.graphiql-response')), { timeout: TIME_LIMIT_MS })
    .toMatch(/"contexts": \[\s*\{\s*"name": "default"/);

  // GRAPHIQL_SCREENSHOT=<file> keeps the screenshot, to look at.
  const screenshot = process.env.GRAPHIQL_SCREENSHOT ?? join(screenshotDir, 'graphiql.png');
  await page.screenshot({ path: screenshot });
  const png = readFileSync(screenshot);
  expect(pngSize(png)).toEqual({ width: 1280, height: 800 });
  // Compared with a blank page of the same size, which is a PNG of nearly nothing.
  const blankPage = await page.context().newPage();
  const blank = await blankPage.screenshot();
  await blankPage.close();
  expect(pngSize(blank)).toEqual({ width: 1280, height: 800 });
  expect(png.length).toBeGreaterThan(5 * blank.length);
}
